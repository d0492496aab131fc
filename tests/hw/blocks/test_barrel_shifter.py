import numpy as np
import pytest

from golden.primitives import barrel_shift, shifter_widths
from hw.blocks.barrel_shifter import BarrelShifter
from sim.amaranth_sim import run_comb
from sim.runner import run_cocotb

MODES = [("left", False), ("left", True), ("right", False), ("right", True)]


def test_golden_examples():
    kw = dict(width=8, max_shift=7)
    assert barrel_shift(0x81, 1, direction="left", arithmetic=False, **kw) == 0x102
    assert barrel_shift(0x81, 1, direction="left", arithmetic=True, **kw) == 0x7F02     # -127*2 in 15 bits
    assert barrel_shift(0x81, 3, direction="right", arithmetic=False, **kw) == 0x10
    assert barrel_shift(0x81, 3, direction="right", arithmetic=True, **kw) == 0xF0      # floor(-127/8) = -16
    assert barrel_shift(0x80, 7, direction="right", arithmetic=True, **kw) == 0xFF
    assert shifter_widths(16, 15, "left") == (4, 31)
    assert shifter_widths(16, 5, "right") == (3, 16)
    # amounts above max_shift (the port can express 6, 7 when max_shift = 5) are reduced to out_width
    assert barrel_shift(0xF, 7, width=4, max_shift=5, direction="left", arithmetic=False) == 0x180


@pytest.mark.parametrize("kwargs, exc, msg", [
    (dict(width=0, max_shift=3), ValueError, r"width must be an integer in \[1, 48\], got 0"),
    (dict(width=8, max_shift=0), ValueError, r"max_shift must be an integer in \[1, 48\], got 0"),
    (dict(width=8, max_shift=3, direction="up"), ValueError, r"direction must be one of 'left', 'right', got 'up'"),
    (dict(width=8, max_shift=3, arithmetic=1), TypeError, r"arithmetic must be a bool \(True or False\), got 1"),
    (dict(width=40, max_shift=40), ValueError, r"width \+ max_shift must be <= 62 for a left shifter, got 40 \+ 40"),
])
def test_generator_refuses_bad_parameters(kwargs, exc, msg):
    with pytest.raises(exc, match=msg):
        BarrelShifter(**kwargs)


def test_golden_refuses_bad_input():
    with pytest.raises(ValueError, match=r"amount must hold integers in \[0, 7\], got 8"):
        barrel_shift(1, 8, width=8, max_shift=7, direction="left", arithmetic=False)
    with pytest.raises(ValueError, match=r"x must hold integers in \[0, 255\], got -1"):
        barrel_shift(-1, 1, width=8, max_shift=7, direction="left", arithmetic=False)


@pytest.mark.parametrize("direction, arithmetic", MODES)
def test_amaranth_exhaustive_w6(direction, arithmetic):
    dut = BarrelShifter(6, 5, direction, arithmetic)
    data, amount = np.meshgrid(np.arange(64), np.arange(8), indexing="ij")
    vectors = [[(dut.data, int(x)), (dut.amount, int(s))] for x, s in zip(data.ravel(), amount.ravel())]
    got = run_comb(dut, vectors, lambda ctx: ctx.get(dut.result))
    want = barrel_shift(data.ravel(), amount.ravel(), width=6, max_shift=5, direction=direction,
                        arithmetic=arithmetic)
    assert got == want.tolist()


@pytest.mark.cocotb
@pytest.mark.parametrize("direction, arithmetic", MODES)
@pytest.mark.parametrize("amounts", [(0, 7), (8, 15)])
def test_cocotb_w16_exhaustive(direction, arithmetic, amounts, build_dir):
    # every 16-bit word with every shift 0..15 (split in two halves so the suite runs in parallel)
    run_cocotb(BarrelShifter(16, 15, direction, arithmetic), toplevel="barrel_w16", tb_module="sim.tb_barrel_shifter",
               build_dir=build_dir, params={"width": 16, "max_shift": 15, "direction": direction,
                                            "arithmetic": arithmetic, "amount_lo": amounts[0],
                                            "amount_hi": amounts[1]})


@pytest.mark.cocotb
@pytest.mark.parametrize("direction, arithmetic", [("left", True), ("right", True)])
def test_cocotb_w24_random(direction, arithmetic, build_dir):
    # max_shift = 20: the 5-bit amount port also reaches 21..31, which the golden function defines too
    run_cocotb(BarrelShifter(24, 20, direction, arithmetic), toplevel="barrel_w24", tb_module="sim.tb_barrel_shifter",
               build_dir=build_dir, params={"width": 24, "max_shift": 20, "direction": direction,
                                            "arithmetic": arithmetic, "amount_lo": 0, "amount_hi": 31})
