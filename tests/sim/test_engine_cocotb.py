"""The layer engine's generated Verilog under cocotb and Verilator on real EfficientNet-Lite0 layers: every
architecture on two array shapes, both with partial tiles; outputs equal to plain integer NumPy, the
cycle counter equal to golden.array.engine_cycles, loads with random stalls and drains with random
back-pressure losing nothing (sim/tb_layer.py). The 2 x 2 engines are built with depthwise convolutions
and also run the network's depthwise block-8 convolution (sim.engine_vectors.real_layers) and a global
average pool."""

import numpy as np
import pytest

from golden.array import ArrayConfig, avg_pool_reference
from hw.array.archs import ARCHS, engine
from hw.array.images import global_avg_pool_layer
from sim.engine_vectors import real_layer_images, write_engine_vectors
from sim.runner import run_cocotb

#: (rows, cols): output channels K = rows + 2 and tokens T = cols + 1, so both shapes end in partial tiles
#: (the 4 x 4 arrays of the characterization run the same slices in make synth, fpga.array_report)
SHAPES = [(2, 2), (3, 2)]


@pytest.mark.verilator
@pytest.mark.parametrize("rows,cols", SHAPES, ids=[f"{r}x{c}" for r, c in SHAPES])
@pytest.mark.parametrize("arch", sorted(ARCHS))
def test_real_layers_on_engine(arch, rows, cols, build_dir):
    cfg = ArrayConfig(rows=rows, cols=cols, weight_depth=512, act_depth=512, param_depth=8, out_depth=256,
                      depthwise=rows == 2)
    eng = engine(arch, cfg)
    images = [image for _, image in real_layer_images(eng, arch, seed=rows)]
    assert [im.expected.shape for im in images][2] == (rows + 2, 25)      # the stem: 5 x 5 outputs
    if cfg.depthwise:                                                     # one channel group, 4 x 4 outputs
        lanes = ARCHS[arch].config.pe_length
        assert images[3].expected.shape == (lanes, 16) and images[3].desc["conv_dw"] == 1
        # and a global average pool of a 4 x 6 map (an even window: exact halves round up)
        x = np.random.default_rng(rows).integers(-128, 128, (lanes, 4, 6))
        images.append(global_avg_pool_layer(eng, arch, x))
        assert images[4].expected[:, 0].tolist() == avg_pool_reference(x).tolist()
    vec = write_engine_vectors(build_dir / "vectors.json", eng, images, load_prob=0.7, drain_prob=0.6, seed=rows)
    assert run_cocotb(eng, toplevel=f"engine_{arch}", tb_module="sim.tb_layer", build_dir=build_dir,
                      params={"vectors": str(vec)}, simulator="verilator") == 1
