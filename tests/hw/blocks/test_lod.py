import numpy as np
import pytest

from golden.primitives import leading_one, lod_index_width
from hw.blocks.lod import LeadingOneDetector
from sim.amaranth_sim import run_comb
from sim.runner import run_cocotb


def test_golden_examples():
    idx, ok = leading_one(np.array([0, 1, 2, 3, 0x80, 0xFF, 0x100]), 9)
    assert idx.tolist() == [0, 0, 1, 1, 7, 7, 8]
    assert ok.tolist() == [0, 1, 1, 1, 1, 1, 1]
    idx, ok = leading_one(np.array([1 << 63, (1 << 64) - 1], dtype=np.uint64), 64)
    assert idx.tolist() == [63, 63] and ok.tolist() == [1, 1]
    assert [lod_index_width(w) for w in (1, 2, 3, 4, 5, 16, 17, 64)] == [1, 1, 2, 2, 3, 4, 5, 6]


def test_golden_refuses_bad_input():
    with pytest.raises(ValueError, match=r"x must hold integers in \[0, 255\], got 256"):
        leading_one(np.array([256]), 8)
    with pytest.raises(TypeError, match="x must be an array of integers, got dtype float64"):
        leading_one(np.array([1.0]), 8)
    with pytest.raises(ValueError, match=r"width must be an integer in \[1, 64\], got 65"):
        leading_one(np.array([1]), 65)


@pytest.mark.parametrize("width", [0, -3, 65])
def test_generator_refuses_bad_width(width):
    with pytest.raises(ValueError, match=rf"width must be an integer in \[1, 64\], got {width}"):
        LeadingOneDetector(width)


def test_generator_refuses_non_integer_width():
    with pytest.raises(TypeError, match=r"width must be an integer in \[1, 64\], got 8.0 of type float"):
        LeadingOneDetector(8.0)


@pytest.mark.parametrize("width", [1, 2, 5, 8])
def test_amaranth_exhaustive(width):
    dut = LeadingOneDetector(width)
    data = np.arange(1 << width)
    got = run_comb(dut, [[(dut.data, int(x))] for x in data], lambda ctx: (ctx.get(dut.index), ctx.get(dut.valid)))
    idx, ok = leading_one(data, width)
    assert got == list(zip(idx.tolist(), ok.tolist()))


@pytest.mark.cocotb
@pytest.mark.parametrize("width", [1, 3, 16, 33, 64])
def test_cocotb_verilog(width, build_dir):
    # exhaustive for width <= 16, corners + 20000 seeded random words above
    run_cocotb(LeadingOneDetector(width), toplevel=f"lod_w{width}", tb_module="sim.tb_lod",
               build_dir=build_dir, params={"width": width, "seed": width})
