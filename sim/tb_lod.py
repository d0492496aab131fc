"""cocotb bench for hw.blocks.lod.LeadingOneDetector: exhaustive up to 16 bits, else random + corners."""

import cocotb
import numpy as np
from cocotb.triggers import Timer

from golden.primitives import leading_one
from sim.runner import test_params
from sim.vectors import corner_words, random_words


@cocotb.test()
async def lod_matches_golden(dut):
    p = test_params()
    width = p["width"]
    if width <= 16:
        data = np.arange(1 << width, dtype=np.int64)
    else:
        data = np.concatenate([corner_words(width), random_words(width, 20000, seed=p.get("seed", 1))])
    want_index, want_valid = leading_one(data, width)
    for x, wi, wv in zip(data.tolist(), want_index.tolist(), want_valid.tolist()):
        dut.data.value = x
        await Timer(1, unit="ns")
        got = (int(dut.index.value), int(dut.valid.value))
        assert got == (wi, wv), f"data={x:#x}: got (index, valid)={got}, golden {(wi, wv)}"
