"""network.compress: every method on real layers, the per-layer policy, the stored sizes recomputed from
the formats' definitions, and bad input refused."""

import math

import numpy as np
import pytest

from golden import bbs, bitwave
from golden.pretrained import pretrained_layers
from golden.quant import quantize
from network.compress import METHODS, compress, layer_group


@pytest.fixture(scope="module")
def weights():
    return {name: layer.weight_float for name, layer in pretrained_layers().items()}


@pytest.mark.parametrize("c, group, expect", [
    (64, 32, (32, "method")), (16, 32, (16, "method")), (8, 32, (8, "method")), (80, 32, (16, "group 16")),
    (40, 32, (8, "group 8")), (3, 32, (0, "int8: C = 3")), (1, 32, (0, "int8: C = 1")),
    (20, 32, (20, "method")), (4, 32, (0, "int8: C = 4")), (36, 32, (0, "int8: C = 36")), (24, 16, (8, "group 8")), (12, 16, (12, "method")),
])
def test_layer_group_policy(c, group, expect):
    assert layer_group(c, group) == expect


def _bbs_bits(shape, group, pruned, sensitive):
    """Bits of the BBS byte stream from its definition: a sensitive group 8 words, another a metadata byte
    and 8 - N words, a word ceil(G/8) bytes."""
    k = shape[0]
    per_channel = math.prod(shape[1:]) // group
    word = 8 * -(-group // 8)
    n_sens = int(sensitive.sum())
    return per_channel * (n_sens * 8 * word + (k - n_sens) * (8 + word * (8 - pruned)))


@pytest.mark.parametrize("name", ["bbs_cons", "bbs_mod"])
def test_bbs_on_real_layers(weights, name):
    m = METHODS[name]
    r = compress(weights, name)
    assert [l.policy for l in r.layers] == ["int8: C = 3", "group 16", "method", "method", "method"]
    applied = {n: quantize(w)[1] for n, w in weights.items() if n != "_conv_stem"}
    sens = bbs.select_sensitive(applied, beta=m.params["beta"], channels_per_tile=32)
    total = 8 * weights["_conv_stem"].size
    for layer in r.layers[1:]:
        assert np.array_equal(layer.sensitive, sens[layer.name])
        q, _ = quantize(weights[layer.name])
        if m.params["prune"] == "ra":
            pruned, _ = bbs.round_average(q, group=layer.group, pruned=2)
        else:
            pruned, _ = bbs.zero_point_shift(q, group=layer.group, pruned=4)
        expect = np.where(layer.sensitive.reshape((-1,) + (1,) * (q.ndim - 1)), q, pruned)
        assert np.array_equal(layer.q, expect)
        assert layer.error == int(((expect - q) ** 2).sum())
        bits = _bbs_bits(q.shape, layer.group, m.params["pruned"], layer.sensitive)
        assert layer.bits_per_weight == bits / q.size
        total += bits
    assert r.bits == total and r.bits_per_weight == total / r.n_weights
    assert r.compression == 8 * r.n_weights / total
    assert r.layers[0].q.tolist() == quantize(weights["_conv_stem"])[0].tolist()


def test_per_weight_methods_and_the_baselines(weights):
    n = sum(w.size for w in weights.values())
    for name, bits in [("int8", 8), ("bitlet", 8), ("bitbalance_k2", 9), ("bitbalance_k3", 13),
                       ("ebsp_w3", 7), ("ebsp_w5", 8)]:
        r = compress(weights, name)
        assert r.n_weights == n and r.bits_per_weight == bits, name
        assert all(l.policy == "method" for l in r.layers)
    r = compress(weights, "bitbalance_k2")
    q = quantize(weights["_fc"])[0]
    from golden.bitbalance import project
    assert np.array_equal(r.layers[-1].q, project(q, k=2))
    assert np.array_equal(compress(weights, "int8").layers[-1].q, q)


def test_bitwave_keeps_sensitive_channels_int8(weights):
    r = compress(weights, "bitwave_n4")
    fc = r.layers[-1]
    q = quantize(weights["_fc"])[0]
    assert fc.group == 16 and fc.sensitive.sum() > 0
    flipped = bitwave.bit_flip(q, group=16, pruned=4)
    assert np.array_equal(fc.q, np.where(fc.sensitive[:, None], q, flipped))
    assert fc.bits_per_weight == bitwave.bits_per_weight(fc.q, group=16)


def test_conv1d_weights_keep_their_shape():
    rng = np.random.default_rng(0)
    w = {"c1": rng.laplace(size=(8, 32, 5)), "fc": rng.laplace(size=(4, 64))}
    r = compress(w, "bbs_cons")
    assert r.layers[0].shape == (8, 32, 5) and r.layers[0].q.shape == (8, 32, 5)
    flat = compress({"c1": w["c1"][:, :, None, :], "fc": w["fc"]}, "bbs_cons")
    assert np.array_equal(flat.layers[0].q[:, :, 0, :], r.layers[0].q)


@pytest.mark.parametrize("args, error, message", [
    (({"a": np.zeros((2, 2))}, "bbs"), ValueError, "method must be one of 'int8', 'bbs_cons'"),
    (({"a": np.full((2, 2), np.nan)}, "int8"), ValueError, "weights['a'] must be finite, got nan"),
    (({"a": np.zeros(4)}, "int8"), ValueError, "weights['a']"),
    (({}, "int8"), TypeError, "weights must be a non-empty mapping"),
    (([np.zeros((2, 2))], "int8"), TypeError, "weights must be a non-empty mapping"),
    (({"a": np.array([["x"]])}, "int8"), TypeError, "weights['a'] must be a numeric array"),
])
def test_bad_input_is_refused(args, error, message):
    with pytest.raises(error) as e:
        compress(*args)
    assert message in str(e.value)


def test_the_command_line_compresses_a_real_checkpoint(tmp_path, capsys):
    import json
    import shutil

    from network.compress import main
    from network.models import ccexam_checkpoint, ccexam_layers
    model = tmp_path / "mnist.pth"
    shutil.copy(ccexam_checkpoint("mnist"), model)
    assert main([str(model), "--method", "bbs_mod"]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0].startswith(f"{model}: 4 layers, 421,408 weights; BBS mod")
    expect = compress({l.name: l.weight for l in ccexam_layers("mnist").layers}, "bbs_mod")
    with np.load(tmp_path / "mnist.bbs_mod.npz") as npz:
        assert str(npz["method"]) == "bbs_mod"
        for r in expect.layers:
            assert np.array_equal(npz[f"{r.name}.q"], r.q) and np.array_equal(npz[f"{r.name}.scales"], r.scales)
    summary = json.loads((tmp_path / "mnist.bbs_mod.json").read_text())
    assert summary["bits_per_weight"] == expect.bits_per_weight
    assert [l["policy"] for l in summary["layers"]] == [r.policy for r in expect.layers]
    assert main([str(model), "--method", "bbs"]) == 2
    assert "error: --method must be one of 'int8'" in capsys.readouterr().err
    assert main([str(tmp_path / "none.pth"), "--method", "int8"]) == 2
    assert main([str(model), "--method", "int8", "-o", str(tmp_path / "x.txt")]) == 2
    assert "-o must name an .npz file" in capsys.readouterr().err
