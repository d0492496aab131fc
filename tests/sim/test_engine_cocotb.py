"""The layer engine's generated Verilog under cocotb on real EfficientNet-Lite0 layers: every
architecture on two array shapes, both with partial tiles; outputs equal to plain integer NumPy, the
cycle counter equal to golden.array.engine_cycles, loads with random stalls and drains with random
back-pressure losing nothing (sim/tb_layer.py)."""

import numpy as np
import pytest

from golden.array import ArrayConfig, fc_reference
from golden.bbs import BBSEncoded, decode
from golden.pretrained import pretrained_layers
from hw.array.archs import ARCHS, engine
from hw.array.images import fc_layer
from sim.engine_vectors import write_engine_vectors
from sim.runner import run_cocotb

#: (rows, cols): output channels K = rows + 2 and tokens T = cols + 1, so both shapes end in partial tiles
SHAPES = [(2, 2), (4, 4)]


def real_layers(arch: str, rows: int, cols: int, seed: int):
    """The first ``rows + 2`` output channels of the classifier ``_fc`` (C = 1280, 80 passes of 16) and of
    the 1 x 1 convolution ``_blocks.8._expand_conv`` (C = 80; its ``cols + 1`` tokens are output pixels),
    INT8 per channel, processed by ``arch``'s method; activations post-ReLU INT8 (random, seeded: the
    network's real activations need its whole forward pass)."""
    rng = np.random.default_rng(seed)
    layers = pretrained_layers()
    out = []
    for name in ("_fc", "_blocks.8._expand_conv"):
        layer = layers[name]
        q = layer.q.reshape(layer.q.shape[0], -1)[:rows + 2]
        sens = (np.arange(len(q)) % 3 == 1) if arch == "bitvert" else None   # a few INT8 channels
        w = ARCHS[arch].prepare(q, sens)
        x = rng.integers(0, 128, (cols + 1, q.shape[1]))
        # the real bias at the accumulator's scale (weight step x an activation step of 1/32)
        bias = np.round(layer.bias_float[:rows + 2] / (layer.scales[:rows + 2] / 32)).astype(np.int64)
        out.append((name, w, x, bias))
    return out


@pytest.mark.cocotb
@pytest.mark.parametrize("rows,cols", SHAPES, ids=[f"{r}x{c}" for r, c in SHAPES])
@pytest.mark.parametrize("arch", sorted(ARCHS))
def test_real_layers_on_engine(arch, rows, cols, build_dir):
    cfg = ArrayConfig(rows=rows, cols=cols, weight_depth=512, act_depth=512, param_depth=8, out_depth=64)
    eng = engine(arch, cfg)
    images = []
    for name, w, x, bias in real_layers(arch, rows, cols, seed=rows):
        image = fc_layer(eng, w, x, bias=bias)
        w_int = decode(w) if isinstance(w, BBSEncoded) else w
        assert np.array_equal(image.expected, fc_reference(w_int, x, bias)), name
        images.append(image)
    vec = write_engine_vectors(build_dir / "vectors.json", eng, images, load_prob=0.7, drain_prob=0.6, seed=rows)
    assert run_cocotb(eng, toplevel=f"engine_{arch}", tb_module="sim.tb_layer", build_dir=build_dir,
                      params={"vectors": str(vec)}) == 1
