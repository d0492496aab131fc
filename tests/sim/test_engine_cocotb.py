"""The layer engine's generated Verilog under cocotb and Verilator on real EfficientNet-Lite0 layers: every
architecture on two array shapes, both with partial tiles; outputs equal to plain integer NumPy, the
cycle counter equal to golden.array.engine_cycles, loads with random stalls and drains with random
back-pressure losing nothing (sim/tb_layer.py)."""

import numpy as np
import pytest

from golden.array import ArrayConfig, conv_reference, fc_reference
from golden.bbs import BBSEncoded, decode
from golden.pretrained import pretrained_layers
from hw.array.archs import ARCHS, engine
from hw.array.images import conv_layer, fc_layer
from sim.engine_vectors import write_engine_vectors
from sim.runner import run_cocotb

#: (rows, cols): output channels K = rows + 2 and tokens T = cols + 1, so both shapes end in partial tiles
SHAPES = [(2, 2), (4, 4)]


def real_layers(arch: str, rows: int, cols: int, seed: int):
    """Three real layers, INT8 per channel, processed by ``arch``'s method, their first ``rows + 2``
    output channels:

    * the classifier ``_fc`` (C = 1280: 80 passes of 16), ``cols + 1`` tokens;
    * the 1 x 1 convolution ``_blocks.8._expand_conv`` (C = 80), ``cols + 1`` output pixels as tokens;
    * the stem ``_conv_stem`` (3 x 3, stride 2, padding ((0, 1), (0, 1))) on an 11 x 11 crop of the map:
      5 x 5 outputs, its C = 3 input channels zero-padded to one pass (the PE's lanes).

    Activations are INT8 (random, seeded: the network's real activations need its whole forward pass);
    each layer's real bias is taken at the accumulator's scale (weight step x an activation step of 1/32).
    Yields ``(name, kind, weights, x, bias)``."""
    rng = np.random.default_rng(seed)
    layers = pretrained_layers()
    K = rows + 2
    lanes = ARCHS[arch].config.pe_length
    for name in ("_fc", "_blocks.8._expand_conv", "_conv_stem"):
        layer = layers[name]
        q = layer.q[:K]
        bias = np.round(layer.bias_float[:K] / (layer.scales[:K] / 32)).astype(np.int64)
        sens = (np.arange(K) % 3 == 1) if arch.startswith("bitvert") else None   # a few INT8 channels
        if name == "_conv_stem":
            q = np.pad(q, ((0, 0), (0, lanes - q.shape[1]), (0, 0), (0, 0)))
            x = np.pad(rng.integers(-128, 128, (3, 11, 11)), ((0, lanes - 3), (0, 0), (0, 0)))
            yield name, "conv", ARCHS[arch].prepare(q, sens), x, bias
        else:
            q = q.reshape(K, -1)
            yield name, "fc", ARCHS[arch].prepare(q, sens), rng.integers(0, 128, (cols + 1, q.shape[1])), bias


@pytest.mark.verilator
@pytest.mark.parametrize("rows,cols", SHAPES, ids=[f"{r}x{c}" for r, c in SHAPES])
@pytest.mark.parametrize("arch", sorted(ARCHS))
def test_real_layers_on_engine(arch, rows, cols, build_dir):
    cfg = ArrayConfig(rows=rows, cols=cols, weight_depth=512, act_depth=512, param_depth=8, out_depth=256)
    eng = engine(arch, cfg)
    images = []
    stem = pretrained_layers()["_conv_stem"]
    for name, kind, w, x, bias in real_layers(arch, rows, cols, seed=rows):
        w_int = decode(w) if isinstance(w, BBSEncoded) else w
        if kind == "conv":
            image = conv_layer(eng, w, x, stride=stem.stride, padding=stem.padding, bias=bias)
            want = conv_reference(w_int, x, stride=stem.stride, padding=stem.padding, bias=bias)
            assert want.shape[1:] == (5, 5)
        else:
            image = fc_layer(eng, w, x, bias=bias)
            want = fc_reference(w_int, x, bias)
        assert np.array_equal(image.expected, want.reshape(len(want), -1)), name
        images.append(image)
    vec = write_engine_vectors(build_dir / "vectors.json", eng, images, load_prob=0.7, drain_prob=0.6, seed=rows)
    assert run_cocotb(eng, toplevel=f"engine_{arch}", tb_module="sim.tb_layer", build_dir=build_dir,
                      params={"vectors": str(vec)}, simulator="verilator") == 1
