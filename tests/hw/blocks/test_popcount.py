import numpy as np
import pytest

from golden.primitives import popcount_bits, popcount_width
from hw.blocks.popcount import Popcount
from sim.amaranth_sim import run_comb
from sim.runner import run_cocotb


def test_golden_examples():
    assert popcount_bits(np.array([0, 1, 0b1011, 0xFF]), 8).tolist() == [0, 1, 3, 8]
    assert popcount_bits(np.array([(1 << 64) - 1, 1 << 63], dtype=np.uint64), 64).tolist() == [64, 1]
    assert [popcount_width(w) for w in (1, 2, 3, 7, 8, 64)] == [1, 2, 2, 3, 4, 7]


def test_bad_input():
    with pytest.raises(ValueError, match=r"width must be an integer in \[1, 64\], got 0"):
        Popcount(0)
    with pytest.raises(TypeError, match=r"width must be an integer in \[1, 64\], got '8' of type str"):
        Popcount("8")
    with pytest.raises(ValueError, match=r"x must hold integers in \[0, 15\], got 16"):
        popcount_bits(np.array([16]), 4)


@pytest.mark.parametrize("width", [1, 3, 8])
def test_amaranth_exhaustive(width):
    dut = Popcount(width)
    data = np.arange(1 << width)
    got = run_comb(dut, [[(dut.data, int(x))] for x in data], lambda ctx: ctx.get(dut.count))
    assert got == popcount_bits(data, width).tolist()


@pytest.mark.cocotb
@pytest.mark.parametrize("width", [8, 16, 64])
def test_cocotb_verilog(width, build_dir):
    run_cocotb(Popcount(width), toplevel=f"popcount_w{width}", tb_module="sim.tb_popcount",
               build_dir=build_dir, params={"width": width})
