"""cocotb bench for hw.blocks.shift_accumulator.ShiftAccumulator.

Random sequences of accumulations (a ``start`` at most every ``steps`` terms, idle cycles with ``en = 0``
in between) and the worst cases the width was derived for: ``steps`` terms of the negated most negative
``x`` at the largest shift, and of the most negative ``x`` itself.
"""

import cocotb
import numpy as np
from cocotb.clock import Clock
from cocotb.triggers import FallingEdge

from golden.primitives import shift_accumulate
from sim.runner import test_params


def sequences(p, seed):
    rng = np.random.default_rng(seed)
    w, steps, ms = p["x_width"], p["steps"], p["max_shift"]
    lo, hi = -(1 << (w - 1)), (1 << (w - 1)) - 1
    xs, negs, shifts, starts = [], [], [], []
    for run in range(300):
        length = int(rng.integers(1, steps + 1))
        xs += rng.integers(lo, hi + 1, size=length).tolist()
        negs += rng.integers(0, 2, size=length).tolist()
        shifts += rng.integers(0, ms + 1, size=length).tolist()
        starts += [1] + [0] * (length - 1)
    for x, neg in ((lo, 1), (lo, 0), (hi, 0), (hi, 1)):       # worst cases, exactly `steps` terms
        xs += [x] * steps
        negs += [neg] * steps
        shifts += [ms] * steps
        starts += [1] + [0] * (steps - 1)
    return [np.array(v, dtype=np.int64) for v in (xs, negs, shifts, starts)]


@cocotb.test()
async def accumulator_matches_golden(dut):
    p = test_params()
    mode = p["mode"]
    xs, negs, shifts, starts = sequences(p, seed=p["x_width"] * 31 + p["steps"])
    want = shift_accumulate(xs, negs, shifts if mode == "shift_add" else None, starts, mode=mode).tolist()
    rng = np.random.default_rng(5)
    cocotb.start_soon(Clock(dut.clk, 10, unit="ns").start())
    dut.rst.value = 1
    dut.en.value = 0
    await FallingEdge(dut.clk)
    dut.rst.value = 0
    for t in range(len(xs)):
        while rng.random() < 0.2:                      # idle cycles: the accumulator must hold
            dut.en.value = 0
            dut.x.value = int(rng.integers(-(1 << (p["x_width"] - 1)), 1 << (p["x_width"] - 1)))
            await FallingEdge(dut.clk)
            if t:
                assert dut.acc.value.to_signed() == want[t - 1], f"accumulator changed while en = 0 at step {t}"
        dut.en.value = 1
        dut.x.value = int(xs[t])
        dut.negate.value = int(negs[t])
        dut.start.value = int(starts[t])
        if mode == "shift_add" and p["max_shift"]:
            dut.shift.value = int(shifts[t])
        await FallingEdge(dut.clk)
        got = dut.acc.value.to_signed()
        assert got == want[t], (f"step {t} (x={xs[t]}, negate={negs[t]}, shift={shifts[t]}, "
                                f"start={starts[t]}): got {got}, golden {want[t]}")
