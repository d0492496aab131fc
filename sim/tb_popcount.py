"""cocotb bench for hw.blocks.popcount.Popcount: exhaustive up to 16 bits, else random + corners."""

import cocotb
import numpy as np
from cocotb.triggers import Timer

from golden.primitives import popcount_bits
from sim.runner import test_params
from sim.vectors import corner_words, random_words


@cocotb.test()
async def popcount_matches_golden(dut):
    width = test_params()["width"]
    if width <= 16:
        data = np.arange(1 << width, dtype=np.int64)
    else:
        data = np.concatenate([corner_words(width), random_words(width, 20000, seed=3)])
    want = popcount_bits(data, width).tolist()
    for x, c in zip(data.tolist(), want):
        dut.data.value = x
        await Timer(1, unit="ns")
        got = int(dut.count.value)
        assert got == c, f"data={x:#x}: got {got}, golden {c}"
