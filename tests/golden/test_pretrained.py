"""golden.pretrained: PyTorch checkpoints read without torch, the real EfficientNet-Lite0 and its layers."""

import collections
import contextlib
import io
import math
import os
import pickle
import pickletools
import shutil
import sys
import types
import zipfile
from pathlib import Path

import numpy as np
import pytest

from golden import pretrained as P
from golden.quant import quantize

# ------------------------------------------------------------------------------ hand-built checkpoints
#
# A tiny stand-in for the torch names a checkpoint's pickle references, so the test writes pickles the way
# torch.save does (protocol 2, GLOBAL 'torch._utils _rebuild_tensor_v2', GLOBAL 'torch FloatStorage',
# persistent ids for storages) without torch. The fake modules sit in sys.modules only while pickling.

_fake_torch = types.ModuleType("torch")
_fake_utils = types.ModuleType("torch._utils")


def _fake_global(module, name, obj):
    obj.__module__, obj.__qualname__, obj.__name__ = module.__name__, name, name
    setattr(module, name, obj)
    return obj


def _never_called(*args):  # only its name is pickled
    raise AssertionError("stand-in called")


REBUILD = _fake_global(_fake_utils, "_rebuild_tensor_v2", lambda *a: _never_called(*a))
REBUILD_PARAM = _fake_global(_fake_utils, "_rebuild_parameter", lambda *a: _never_called(*a))
STYPES = {n: _fake_global(_fake_torch, n, type(n, (), {}))
          for n in ("FloatStorage", "DoubleStorage", "HalfStorage", "LongStorage", "BFloat16Storage")}
_fake_torch._utils = _fake_utils


class FakeStorage:
    def __init__(self, key, stype, values, dtype):
        self.key, self.stype, self.values = key, stype, np.asarray(values, dtype=dtype)


class FakeTensor:
    def __init__(self, storage, offset, size, stride):
        self.args = (storage, offset, size, stride, False, collections.OrderedDict())

    def __reduce__(self):
        return REBUILD, self.args


class FakeParameter:
    def __init__(self, tensor):
        self.tensor = tensor

    def __reduce__(self):
        return REBUILD_PARAM, (self.tensor, True, collections.OrderedDict())


class _Pickler(pickle.Pickler):
    def __init__(self, f, legacy):
        super().__init__(f, protocol=2)
        self.legacy = legacy

    def persistent_id(self, obj):
        if isinstance(obj, FakeStorage):
            pid = ("storage", STYPES[obj.stype], obj.key, "cpu", obj.values.size)
            return pid + (None,) if self.legacy else pid
        return None


@contextlib.contextmanager
def _torch_names():
    saved = {n: sys.modules.get(n) for n in ("torch", "torch._utils")}
    sys.modules["torch"], sys.modules["torch._utils"] = _fake_torch, _fake_utils
    try:
        yield
    finally:
        for n, m in saved.items():
            if m is None:
                del sys.modules[n]
            else:
                sys.modules[n] = m


def _dumps(obj, legacy):
    f = io.BytesIO()
    with _torch_names():
        _Pickler(f, legacy).dump(obj)
    return f.getvalue()


def _storages_of(entries):
    out = {}
    for t in (entries.values() if isinstance(entries, dict) else entries):
        t = t.tensor if isinstance(t, FakeParameter) else t
        if isinstance(t, FakeTensor):
            out[t.args[0].key] = t.args[0]
    return list(out.values())


def write_zip(path, entries, byteorder="little"):
    """A zip checkpoint as torch.save writes it: archive/data.pkl, archive/data/<key>, version, byteorder."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as z:
        z.writestr("archive/data.pkl", _dumps(entries, legacy=False))
        z.writestr("archive/byteorder", byteorder)
        z.writestr("archive/version", "3\n")
        for st in _storages_of(entries):
            v = st.values
            z.writestr(f"archive/data/{st.key}", (v.byteswap() if byteorder == "big" else v).tobytes())
    return path


def legacy_bytes(entries, keys=None, count_delta=0):
    """A legacy checkpoint: magic, protocol, sys_info, state dict, storage keys, then count + data each."""
    sts = _storages_of(entries)
    out = [pickle.dumps(0x1950A86A20F9469CFC6C, protocol=2), pickle.dumps(1001, protocol=2),
           pickle.dumps({"protocol_version": 1001, "little_endian": True,
                         "type_sizes": {"short": 2, "int": 4, "long": 8}}, protocol=2),
           _dumps(entries, legacy=True), pickle.dumps(keys or [s.key for s in sts], protocol=2)]
    for st in sts:
        out.append((st.values.size + count_delta).to_bytes(8, "little", signed=True) + st.values.tobytes())
    return b"".join(out)


# storage "0": float32 -2.0, -1.5, ..., 3.5 (value = idx / 2 - 2); shared by three tensors
S0 = FakeStorage("0", "FloatStorage", np.arange(12) / 2 - 2, "<f4")
S1 = FakeStorage("1", "LongStorage", [7, -3, 2**40, -2**63], "<i8")
S2 = FakeStorage("2", "HalfStorage", [1.0, -0.5, 65504.0], "<f2")
S3 = FakeStorage("3", "DoubleStorage", [0.1, 0.2, 0.3, 0.4], "<f8")

ENTRIES = collections.OrderedDict([
    ("w", FakeTensor(S0, 0, (3, 4), (4, 1))),             # contiguous
    ("wt", FakeTensor(S0, 0, (4, 3), (1, 4))),            # its transpose: non-contiguous
    ("sl", FakeTensor(S0, 5, (2, 2), (4, 2))),            # offset 5, strides 4 and 2: indices 5 7 / 9 11
    ("n", FakeTensor(S1, 2, (), ())),                     # a scalar at offset 2
    ("l", FakeTensor(S1, 0, (4,), (1,))),
    ("h", FakeParameter(FakeTensor(S2, 0, (3,), (1,)))),  # an nn.Parameter
    ("d", FakeTensor(S3, 1, (2, 3), (0, 1))),             # stride 0 (an expanded tensor), offset 1
])

EXPECTED = {
    "w": ([[-2.0, -1.5, -1.0, -0.5], [0.0, 0.5, 1.0, 1.5], [2.0, 2.5, 3.0, 3.5]], np.float32, (3, 4)),
    "wt": ([[-2.0, 0.0, 2.0], [-1.5, 0.5, 2.5], [-1.0, 1.0, 3.0], [-0.5, 1.5, 3.5]], np.float32, (4, 3)),
    "sl": ([[0.5, 1.5], [2.5, 3.5]], np.float32, (2, 2)),
    "n": (1099511627776, np.int64, ()),
    "l": ([7, -3, 1099511627776, -9223372036854775808], np.int64, (4,)),
    "h": ([1.0, -0.5, 65504.0], np.float16, (3,)),
    "d": ([[0.2, 0.3, 0.4], [0.2, 0.3, 0.4]], np.float64, (2, 3)),
}


def _check_expected(sd):
    assert list(sd) == list(EXPECTED)
    for name, (values, dtype, shape) in EXPECTED.items():
        a = sd[name]
        assert a.dtype == dtype and a.shape == shape, name
        assert a.tolist() == values, name
        assert a.flags.c_contiguous and a.flags.writeable and a.flags.owndata, name


def test_hand_built_pickle_is_what_torch_writes():
    ops = [(op.name, arg) for op, arg, _ in pickletools.genops(_dumps(ENTRIES, legacy=False))]
    globals_ = {arg for name, arg in ops if name == "GLOBAL"}
    assert globals_ == {"collections OrderedDict", "torch._utils _rebuild_tensor_v2",
                        "torch._utils _rebuild_parameter", "torch FloatStorage", "torch LongStorage",
                        "torch HalfStorage", "torch DoubleStorage"}
    assert ("BINPERSID", None) in ops and ops[0] == ("PROTO", 2)
    assert sys.modules.get("torch") is not _fake_torch and sys.modules.get("torch._utils") is not _fake_utils


@pytest.mark.parametrize("byteorder", ["little", "big"])
def test_zip_checkpoint_exact(tmp_path, byteorder):
    _check_expected(P.load_state_dict(write_zip(tmp_path / "m.pt", ENTRIES, byteorder)))


def test_legacy_checkpoint_exact(tmp_path):
    path = tmp_path / "m.pth"
    path.write_bytes(legacy_bytes(ENTRIES))
    _check_expected(P.load_state_dict(str(path)))


def test_tensors_sharing_a_storage_are_independent_copies(tmp_path):
    sd = P.load_state_dict(write_zip(tmp_path / "m.pt", ENTRIES))
    sd["w"][0, 0] = 100.0
    assert sd["wt"][0, 0] == -2.0 and sd["sl"][0, 0] == 0.5


# ------------------------------------------------------------------------------------- the real file

@pytest.fixture(scope="module")
def sd():
    return P.efficientnet_lite0()


@pytest.fixture(scope="module")
def layers():
    return P.pretrained_layers()


def test_real_file_keys_and_shapes(sd):
    assert len(sd) == 296
    assert list(sd)[:6] == ["_conv_stem.weight", "_bn0.weight", "_bn0.bias", "_bn0.running_mean",
                            "_bn0.running_var", "_bn0.num_batches_tracked"]
    assert list(sd)[-2:] == ["_fc.weight", "_fc.bias"]
    shapes = {"_conv_stem.weight": (32, 3, 3, 3), "_bn0.weight": (32,), "_bn0.num_batches_tracked": (),
              "_blocks.0._depthwise_conv.weight": (32, 1, 3, 3), "_blocks.0._project_conv.weight": (16, 32, 1, 1),
              "_blocks.8._expand_conv.weight": (480, 80, 1, 1), "_blocks.8._depthwise_conv.weight": (480, 1, 5, 5),
              "_blocks.8._project_conv.weight": (112, 480, 1, 1), "_blocks.8._bn2.running_var": (112,),
              "_blocks.15._project_conv.weight": (320, 1152, 1, 1), "_conv_head.weight": (1280, 320, 1, 1),
              "_bn1.running_mean": (1280,), "_fc.weight": (1000, 1280), "_fc.bias": (1000,)}
    for k, s in shapes.items():
        assert sd[k].shape == s, k
    assert "_blocks.0._expand_conv.weight" not in sd and not any("_se_" in k for k in sd)  # Lite: no SE
    assert [sd[f"_blocks.{i}._depthwise_conv.weight"].shape[2] for i in range(16)] == \
        [3, 3, 3, 5, 5, 3, 3, 3, 5, 5, 5, 5, 5, 5, 5, 3]
    bn_counters = [k for k in sd if k.endswith("num_batches_tracked")]
    assert len(bn_counters) == 49 and all(sd[k].dtype == np.int64 and sd[k] == 0 for k in bn_counters)
    assert all(a.dtype == np.float32 for k, a in sd.items() if k not in bn_counters)
    assert sum(a.size for k, a in sd.items() if k.endswith((".weight", ".bias"))) == 4652008


def test_real_file_pinned_values(sd):
    # read once from the file with this reader and pinned (float.hex: exact float32 values)
    assert float(np.abs(sd["_fc.weight"].astype(np.float64)).sum()) == pytest.approx(65336.67289497613, rel=1e-9)
    pins = {("_fc.weight", (0, 0)): "-0x1.75a4040000000p-5",
            ("_fc.weight", (999, 1279)): "0x1.4eb5600000000p-5",
            ("_fc.bias", (0,)): "0x1.0695ec0000000p-5",
            ("_conv_stem.weight", (0, 0, 0, 0)): "-0x1.1c3efc0000000p+0",
            ("_conv_stem.weight", (31, 2, 2, 2)): "0x1.8000000000000p-26",
            ("_blocks.8._expand_conv.weight", (0, 0, 0, 0)): "0x1.c109e40000000p-3",
            ("_blocks.8._project_conv.weight", (111, 479, 0, 0)): "0x1.400a220000000p-2",
            ("_bn0.running_var", (0,)): "0x1.a1a54e0000000p+0",
            ("_blocks.8._bn2.running_mean", (0,)): "-0x1.82a9620000000p+0",
            ("_conv_head.weight", (1279, 319, 0, 0)): "0x1.8abc460000000p-5"}
    for (k, idx), h in pins.items():
        assert float(sd[k][idx]) == float.fromhex(h), (k, idx)


def test_real_file_tensors_belong_together(sd):
    # the four stem channels with zero running variance are exactly the four dead stem filters: a tensor
    # read from another storage (or offset) would not line up with its batch norm
    dead = np.flatnonzero(np.abs(sd["_conv_stem.weight"]).reshape(32, -1).max(axis=1) < 1e-6)
    assert dead.tolist() == [11, 16, 28, 31]
    assert np.flatnonzero(sd["_bn0.running_var"] == 0).tolist() == [11, 16, 28, 31]


def test_real_file_direct_load_equals_cached(sd):
    again = P.load_state_dict(P.efficientnet_lite0_path())
    assert list(again) == list(sd)
    for k in sd:
        assert again[k].dtype == sd[k].dtype and np.array_equal(again[k], sd[k]), k


def test_cache_is_read_only_and_dict_is_fresh(sd):
    d = P.efficientnet_lite0()
    assert d is not sd and d["_fc.weight"] is sd["_fc.weight"]
    with pytest.raises(ValueError, match="read-only"):
        d["_fc.weight"][0, 0] = 0.0
    d.pop("_fc.bias")
    assert "_fc.bias" in P.efficientnet_lite0()


def test_wrong_file_fails_the_hash_check(tmp_path, monkeypatch):
    fake = tmp_path / "efficientnet-lite0-57934424.pth"
    fake.write_bytes(legacy_bytes(ENTRIES))
    monkeypatch.setattr(P, "efficientnet_lite0_path", lambda: str(fake))
    with pytest.raises(ValueError, match=r"efficientnet-lite0-57934424\.pth: SHA-256 [0-9a-f]{64}, expected 5793"):
        P._lite0_cached.__wrapped__()


# --------------------------------------------------------------------------------------- the layers

LAYERS = {  # name: (kind, weight shape, stride, padding, out_size, batch norm)
    "_conv_stem": ("conv", (32, 3, 3, 3), 2, ((0, 1), (0, 1)), (112, 112), "_bn0"),
    "_blocks.8._expand_conv": ("conv", (480, 80, 1, 1), 1, ((0, 0), (0, 0)), (14, 14), "_blocks.8._bn0"),
    "_blocks.8._project_conv": ("conv", (112, 480, 1, 1), 1, ((0, 0), (0, 0)), (14, 14), "_blocks.8._bn2"),
    "_conv_head": ("conv", (1280, 320, 1, 1), 1, ((0, 0), (0, 0)), (7, 7), "_bn1"),
    "_fc": ("fc", (1000, 1280), 1, ((0, 0), (0, 0)), (1, 1), None),
}


def test_layer_table(layers):
    assert list(layers) == list(LAYERS)
    for name, (kind, shape, stride, pad, out, _) in LAYERS.items():
        lay = layers[name]
        assert (lay.name, lay.kind, lay.weight_float.shape, lay.stride, lay.padding, lay.out_size) == \
            (name, kind, shape, stride, pad, out)
        assert lay.weight_float.dtype == np.float64 and lay.bias_float.shape == (shape[0],)
        assert lay.q.dtype == np.int64 and lay.scales.shape == (shape[0],)
        assert not lay.q.flags.writeable and not lay.weight_float.flags.writeable


def test_bn_folding_against_a_plain_loop(sd, layers):
    eps = 1e-3
    assert P.BN_EPS == eps
    for name, (*_, bn) in LAYERS.items():
        w = sd[name + ".weight"]
        if bn is None:
            assert np.array_equal(layers[name].weight_float, w.astype(np.float64))
            assert np.array_equal(layers[name].bias_float, sd[name + ".bias"].astype(np.float64))
            continue
        g, b, m, v = (sd[f"{bn}.{p}"] for p in ("weight", "bias", "running_mean", "running_var"))
        for k in range(w.shape[0]):
            s = float(g[k]) / math.sqrt(float(v[k]) + eps)
            want = [float(x) * s for x in w[k].reshape(-1)]
            assert layers[name].weight_float[k].reshape(-1).tolist() == want, (name, k)
            assert float(layers[name].bias_float[k]) == float(b[k]) - float(m[k]) * s, (name, k)


def test_folded_layer_computes_conv_then_batch_norm(sd, layers):
    # y = BN(conv(x)) with the stored tensors, against conv(x) with the folded ones: a 1x1 convolution
    rng = np.random.default_rng(0)
    x = rng.standard_normal((80, 14, 14))
    w = sd["_blocks.8._expand_conv.weight"][:, :, 0, 0].astype(np.float64)
    g, b, m, v = (sd[f"_blocks.8._bn0.{p}"].astype(np.float64)
                  for p in ("weight", "bias", "running_mean", "running_var"))
    y = np.einsum("kc,chw->khw", w, x)
    bn = (y - m[:, None, None]) / np.sqrt(v[:, None, None] + 1e-3) * g[:, None, None] + b[:, None, None]
    lay = layers["_blocks.8._expand_conv"]
    folded = np.einsum("kc,chw->khw", lay.weight_float[:, :, 0, 0], x) + lay.bias_float[:, None, None]
    np.testing.assert_allclose(folded, bn, rtol=1e-10, atol=1e-10)


def test_quantized_layers(layers):
    pins = {  # (sum q, sum |q|, zeros in q): read once, pinned
        "_conv_stem": (-1414, 30342, 57), "_blocks.8._expand_conv": (15268, 1188498, 471),
        "_blocks.8._project_conv": (9233, 1381271, 804), "_conv_head": (-11700, 13070698, 4082),
        "_fc": (-268915, 35331063, 15204)}
    for name, lay in layers.items():
        q0, s0 = quantize(lay.weight_float, bits=8, per_channel=True)
        assert np.array_equal(lay.q, q0) and np.array_equal(lay.scales, s0), name
        assert lay.q.min() >= -127 and lay.q.max() <= 127, name
        k = lay.q.shape[0]
        assert (np.abs(lay.q).reshape(k, -1).max(axis=1) == 127).all(), name
        np.testing.assert_array_equal(lay.scales, np.abs(lay.weight_float).reshape(k, -1).max(axis=1) / 127)
        s = lay.scales.reshape((k,) + (1,) * (lay.q.ndim - 1))
        assert (np.abs(lay.q * s - lay.weight_float) <= s / 2 * (1 + 1e-12)).all(), name
        assert (int(lay.q.sum()), int(np.abs(lay.q).sum()), int((lay.q == 0).sum())) == pins[name], name


def test_pretrained_layers_fresh_dict(layers):
    d = P.pretrained_layers()
    assert d is not layers and d["_fc"] is layers["_fc"]
    with pytest.raises(AttributeError):
        d["_fc"].stride = 2


def test_fold_batch_norm_small_exact():
    w = np.array([[1.0, -2.0], [0.5, 4.0]])
    wf, bf = P.fold_batch_norm(w, gamma=[2.0, 1.0], beta=[1.0, -1.0], mean=[0.5, 2.0], var=[3.0, 0.0], eps=1.0)
    # s = [2 / 2, 1 / 1] = [1, 1]; b = beta - mean * s
    assert wf.tolist() == [[1.0, -2.0], [0.5, 4.0]] and bf.tolist() == [0.5, -3.0]
    wf, bf = P.fold_batch_norm(w, gamma=[1.0, 3.0], beta=[0.0, 0.0], mean=[1.0, 1.0], var=[3.0, 15.0], eps=1.0)
    assert wf.tolist() == [[0.5, -1.0], [0.375, 3.0]] and bf.tolist() == [-0.5, -0.75]


def test_fold_batch_norm_refuses():
    w = np.ones((2, 3))
    with pytest.raises(ValueError, match=r"beta must have shape \(2,\) to match weight of shape \(2, 3\), got \(3,\)"):
        P.fold_batch_norm(w, [1, 1], [1, 1, 1], [0, 0], [1, 1])
    with pytest.raises(ValueError, match="eps must be a finite number > 0, got 0"):
        P.fold_batch_norm(w, [1, 1], [1, 1], [0, 0], [1, 1], eps=0)
    with pytest.raises(TypeError, match="eps must be a number > 0, got '1e-3'"):
        P.fold_batch_norm(w, [1, 1], [1, 1], [0, 0], [1, 1], eps="1e-3")
    with pytest.raises(ValueError, match=r"var must be >= 0, got -1.0 at index 1"):
        P.fold_batch_norm(w, [1, 1], [1, 1], [0, 0], [1, -1])
    with pytest.raises(ValueError, match="gamma must be finite"):
        P.fold_batch_norm(w, [1, np.nan], [1, 1], [0, 0], [1, 1])


def test_same_padding():
    assert P.same_padding(224, 3, 2) == (0, 1)
    assert P.same_padding(225, 3, 2) == (1, 1)
    assert P.same_padding(112, 5, 2) == (1, 2)
    assert P.same_padding(14, 5, 1) == (2, 2)
    assert P.same_padding(14, 1, 1) == (0, 0)
    assert P.same_padding(7, 1, 2) == (0, 0)
    with pytest.raises(ValueError, match=r"stride must be an integer >= 1, got 0"):
        P.same_padding(224, 3, 0)
    with pytest.raises(TypeError, match="size must be an integer"):
        P.same_padding(224.0, 3, 2)


# ------------------------------------------------------------------------------- refusals and errors

def _evil_pickles(tmp_path):
    marker = tmp_path / "pwned"
    return marker, [
        b"cos\nsystem\n(S'touch " + str(marker).encode() + b"'\ntR.",        # GLOBAL os.system + REDUCE
        b"\x80\x02cposix\nsystem\nX\x05\x00\x00\x00touch\x85R.",             # protocol 2, posix.system
        pickle.dumps(print, protocol=4),                                     # STACK_GLOBAL builtins.print
        b"cbuiltins\neval\n(S'1+1'\ntR.",
    ]


def test_unpickler_refuses_other_globals(tmp_path):
    marker, evil = _evil_pickles(tmp_path)
    names = ["os.system", "posix.system", "builtins.print", "builtins.eval"]
    for data, name in zip(evil, names):
        with pytest.raises(pickle.UnpicklingError, match=rf"refused to load the global {name}: a checkpoint may "
                                                         rf"only reference collections\.OrderedDict"):
            P.CheckpointUnpickler(io.BytesIO(data)).load()
    assert not marker.exists()


def test_load_state_dict_refuses_os_system_in_both_formats(tmp_path):
    marker, evil = _evil_pickles(tmp_path)
    legacy = tmp_path / "evil.pth"
    legacy.write_bytes(legacy_bytes(ENTRIES).replace(_dumps(ENTRIES, legacy=True), evil[0]))
    with pytest.raises(ValueError, match=rf"^{legacy}: cannot read the state dict: refused to load the global "
                                         rf"os\.system: a checkpoint may only reference"):
        P.load_state_dict(legacy)
    zp = tmp_path / "evil.pt"
    with zipfile.ZipFile(zp, "w") as z:
        z.writestr("archive/data.pkl", evil[0])
    with pytest.raises(ValueError, match=rf"^{zp}: cannot read archive/data\.pkl: refused to load the global "
                                         rf"os\.system"):
        P.load_state_dict(zp)
    assert not marker.exists()


def test_truncated_real_file(tmp_path):
    src = P.efficientnet_lite0_path()
    data = Path(src).read_bytes()
    cut = tmp_path / "cut.pth"
    cut.write_bytes(data[:10_000_000])
    with pytest.raises(ValueError, match=rf"^{cut}: truncated: storage \d+ needs \d+ bytes at offset \d+, "
                                         rf"the file has 10000000 bytes"):
        P.load_state_dict(cut)
    cut.write_bytes(data[:30_000])      # inside the state dict's pickle
    with pytest.raises(ValueError, match=rf"^{cut}: cannot read the state dict"):
        P.load_state_dict(cut)
    cut.write_bytes(data + b"\0")
    with pytest.raises(ValueError, match=rf"^{cut}: corrupt: 1 bytes after the last storage"):
        P.load_state_dict(cut)


def test_corrupt_files(tmp_path):
    bad = tmp_path / "bad.pth"
    for content, msg in [(b"", "cannot read the magic number"), (b"hello world", "cannot read the magic number"),
                         (pickle.dumps(12345, protocol=2) * 4, "not a PyTorch checkpoint"),
                         (legacy_bytes(ENTRIES, count_delta=1), r"corrupt: storage 0 at offset \d+ records 13 "
                                                                r"elements, the state dict says 12"),
                         (legacy_bytes(ENTRIES, keys=["0", "1", "2"]), "the list of storage keys does not match")]:
        bad.write_bytes(content)
        with pytest.raises(ValueError, match=rf"^{bad}: {msg}"):
            P.load_state_dict(bad)


def test_zip_errors(tmp_path):
    zp = write_zip(tmp_path / "m.pt", ENTRIES)
    broken = tmp_path / "broken.pt"
    with zipfile.ZipFile(zp) as src, zipfile.ZipFile(broken, "w") as dst:
        for n in src.namelist():
            if n != "archive/data/1":
                dst.writestr(n, src.read(n))
    with pytest.raises(ValueError, match=rf"^{broken}: storage 1 has no record archive/data/1"):
        P.load_state_dict(broken)
    with zipfile.ZipFile(zp) as src, zipfile.ZipFile(broken, "w") as dst:
        for n in src.namelist():
            dst.writestr(n, src.read(n)[:-2] if n == "archive/data/0" else src.read(n))
    with pytest.raises(ValueError, match=rf"^{broken}: corrupt: record archive/data/0 has 46 bytes, "
                                         rf"storage 0 needs 12 x 4"):
        P.load_state_dict(broken)
    with zipfile.ZipFile(broken, "w") as z:
        z.writestr("archive/version", "3\n")
    with pytest.raises(ValueError, match=rf"^{broken}: a zip checkpoint needs exactly one <archive>/data\.pkl"):
        P.load_state_dict(broken)


def test_unsupported_dtype(tmp_path):
    bf = FakeStorage("0", "BFloat16Storage", [0, 1], "<u2")
    zp = write_zip(tmp_path / "bf16.pt", {"x": FakeTensor(bf, 0, (2,), (1,))})
    with pytest.raises(ValueError, match=rf"^{zp}: unsupported tensor dtype: storage type torch\.BFloat16Storage "
                                         rf"\(bfloat16 has no NumPy dtype\)"):
        P.load_state_dict(zp)


def test_not_a_state_dict_or_out_of_bounds(tmp_path):
    zp = write_zip(tmp_path / "a.pt", {"epoch": 3, "w": FakeTensor(S0, 0, (12,), (1,))})
    with pytest.raises(ValueError, match=rf"^{zp}: state dict entry 'epoch' is not a tensor \(it is a int\)"):
        P.load_state_dict(zp)
    zp = write_zip(tmp_path / "b.pt", {"w": FakeTensor(S0, 3, (3, 4), (4, 1))})
    with pytest.raises(ValueError, match=rf"^{zp}: tensor 'w' \(offset 3, size \(3, 4\), stride \(4, 1\)\) "
                                         rf"reaches element 14 of storage 0, which has 12"):
        P.load_state_dict(zp)
    zp = write_zip(tmp_path / "c.pt", [FakeTensor(S0, 0, (12,), (1,))])
    with pytest.raises(ValueError, match=rf"^{zp}: the checkpoint holds a list, not a state dict"):
        P.load_state_dict(zp)


def test_path_type():
    with pytest.raises(TypeError, match="path must be a str or os.PathLike, got 3 of type int"):
        P.load_state_dict(3)


def test_real_file_copy_loads_by_pathlike(tmp_path):
    # a copy of the real file, read through a pathlib.Path, gives the same head and tail tensors
    dst = tmp_path / "copy.pth"
    shutil.copyfile(P.efficientnet_lite0_path(), dst)
    got = P.load_state_dict(dst)
    assert float(got["_fc.weight"][0, 0]) == float.fromhex("-0x1.75a4040000000p-5")
    assert os.path.getsize(dst) == 18826032
