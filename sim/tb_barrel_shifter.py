"""cocotb bench for hw.blocks.barrel_shifter.BarrelShifter: every data word x every amount in the given range."""

import cocotb
import numpy as np
from cocotb.triggers import Timer

from golden.primitives import barrel_shift
from sim.runner import test_params
from sim.vectors import corner_words, random_words


@cocotb.test()
async def shifter_matches_golden(dut):
    p = test_params()
    width = p["width"]
    amounts = range(p["amount_lo"], p["amount_hi"] + 1)
    if width <= 16:
        data = np.arange(1 << width, dtype=np.int64)
    else:
        data = np.concatenate([corner_words(width), random_words(width, 3000, seed=7)])
    for s in amounts:
        want = barrel_shift(data, s, width=width, max_shift=p["max_shift"], direction=p["direction"],
                            arithmetic=p["arithmetic"]).tolist()
        dut.amount.value = s
        for x, r in zip(data.tolist(), want):
            dut.data.value = x
            await Timer(1, unit="ns")
            got = int(dut.result.value)
            assert got == r, f"data={x:#x} amount={s}: got {got:#x}, golden {r:#x}"
