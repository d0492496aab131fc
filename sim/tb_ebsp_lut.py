"""cocotb bench for hw.ebsp.lut.EBSPLut: every activation with every digit on every read port."""

import cocotb
import numpy as np
from cocotb.triggers import Timer

from golden.primitives import ebsp_lut_table
from sim.runner import test_params


@cocotb.test()
async def lut_matches_golden(dut):
    p = test_params()
    aw, L, ports = p["act_width"], p["window"], p["read_ports"]
    xs = np.arange(-(1 << (aw - 1)), 1 << (aw - 1), dtype=np.int64)
    table = ebsp_lut_table(xs, act_width=aw, window=L).tolist()
    rng = np.random.default_rng(aw * 10 + L)
    for x, row in zip(xs.tolist(), table):
        dut.x.value = x
        # every digit on port 0..ports-1 in turn (rotated so each port sees every digit), plus a random mix
        for d in range(1 << L):
            digits = [(d + i) % (1 << L) for i in range(ports)]
            for i, di in enumerate(digits):
                getattr(dut, f"digit__{i}").value = di
            await Timer(1, unit="ns")
            for i, di in enumerate(digits):
                got = getattr(dut, f"value__{i}").value.to_signed()
                assert got == row[di], f"x={x} port {i} digit {di}: got {got}, golden {row[di]}"
        digits = rng.integers(0, 1 << L, size=ports).tolist()
        for i, di in enumerate(digits):
            getattr(dut, f"digit__{i}").value = di
        await Timer(1, unit="ns")
        for i, di in enumerate(digits):
            assert getattr(dut, f"value__{i}").value.to_signed() == row[di]
