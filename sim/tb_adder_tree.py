"""cocotb bench for hw.blocks.adder_tree.AdderTree: corners + seeded random vectors, streamed one per cycle."""

import cocotb
import numpy as np
from cocotb.clock import Clock
from cocotb.triggers import FallingEdge, Timer

from golden.primitives import adder_tree_latency, adder_tree_sum
from sim.runner import test_params


def vectors(n, width, count, seed):
    lo, hi = -(1 << (width - 1)), (1 << (width - 1)) - 1
    rng = np.random.default_rng(seed)
    corners = [np.full(n, lo), np.full(n, hi), np.zeros(n, dtype=np.int64), np.full(n, -1),
               np.where(np.arange(n) % 2, lo, hi)]
    return np.concatenate([np.array(corners, dtype=np.int64), rng.integers(lo, hi + 1, size=(count, n))])


@cocotb.test()
async def adder_tree_matches_golden(dut):
    p = test_params()
    n, width, k = p["n"], p["width"], p["register_every"]
    latency = adder_tree_latency(n, k)
    xs = vectors(n, width, 3000, seed=n * 100 + width)
    want = adder_tree_sum(xs, n=n, width=width).tolist()
    if latency == 0:
        for row, s in zip(xs.tolist(), want):
            for i, v in enumerate(row):
                getattr(dut, f"x__{i}").value = v
            await Timer(1, unit="ns")
            got = dut.sum.value.to_signed()
            assert got == s, f"x={row}: got {got}, golden {s}"
        return
    cocotb.start_soon(Clock(dut.clk, 10, unit="ns").start())
    dut.rst.value = 1
    await FallingEdge(dut.clk)
    dut.rst.value = 0
    # one new vector per cycle; the sum of vector t appears `latency` cycles later
    for t in range(len(xs) + latency):
        if t < len(xs):
            for i, v in enumerate(xs[t].tolist()):
                getattr(dut, f"x__{i}").value = v
        await FallingEdge(dut.clk)
        if t >= latency - 1 and t - (latency - 1) < len(xs):
            got = dut.sum.value.to_signed()
            s = want[t - (latency - 1)]
            assert got == s, f"vector {t - (latency - 1)}: got {got}, golden {s} (latency {latency})"
