import re

import numpy as np
import pytest
from amaranth.back import rtlil

from golden.primitives import adder_tree_latency, adder_tree_levels, adder_tree_sum, adder_tree_width
from hw.blocks.adder_tree import AdderTree
from sim.amaranth_sim import run_comb, run_sync
from sim.runner import run_cocotb


def test_golden_widths():
    assert adder_tree_width(16, 8) == 12          # 16 * -128 = -2048 needs 12 bits
    assert adder_tree_width(1, 8) == 8
    assert adder_tree_width(3, 4) == 6            # 3 * -8 = -24 needs 6 bits
    assert adder_tree_width(17, 8) == 13
    assert [adder_tree_levels(n) for n in (1, 2, 3, 4, 5, 16, 17)] == [0, 1, 2, 2, 3, 4, 5]
    assert adder_tree_latency(16, 0) == 0 and adder_tree_latency(16, 2) == 2 and adder_tree_latency(16, 3) == 1
    assert adder_tree_sum(np.array([[-128] * 16]), n=16, width=8).tolist() == [-2048]


def test_bad_input():
    with pytest.raises(ValueError, match=r"n must be an integer in \[1, 4096\], got 0"):
        AdderTree(0, 8)
    with pytest.raises(ValueError, match=r"register_every must be an integer in \[0, 64\], got -1"):
        AdderTree(4, 8, -1)
    with pytest.raises(ValueError, match=r"x must have a last axis of length n=4, got shape \(3,\)"):
        adder_tree_sum(np.array([1, 2, 3]), n=4, width=8)
    with pytest.raises(ValueError, match=r"x must hold integers in \[-8, 7\], got 8"):
        adder_tree_sum(np.array([1, 2, 3, 8]), n=4, width=4)


def test_input_bits_within_amaranths_netlist():
    # Amaranth numbers a top-level module's input bits 2..65535 (16 bits, 0 and 1 are the constants): an
    # AssertionError deep in its netlist builder beyond that; refused up front, exactly at the limit
    with pytest.raises(ValueError, match=re.escape(
            "n * width = 2048 * 40 = 81920 input bits exceed the 65534 input bits Amaranth can give a "
            "top-level module (16-bit bit numbers, 2 reserved for constants); lower n or width")):
        AdderTree(2048, 40)
    with pytest.raises(ValueError, match=re.escape("n * width = 3855 * 17 = 65535 input bits exceed")):
        AdderTree(3855, 17)
    with pytest.raises(ValueError, match=re.escape(
            "n * width = 2114 * 31 = 65534 input bits plus the clock and reset of a pipelined tree exceed "
            "the 65534")):
        AdderTree(2114, 31, register_every=12)                  # 12 levels: one register level
    for k in (0, 13):                                           # 13 > 12 levels: no register, no clock
        rtlil.convert(AdderTree(2114, 31, register_every=k))    # 65534 input bits: elaborates
    rtlil.convert(AdderTree(1524, 43, register_every=1))        # 65532 + clock and reset: elaborates


@pytest.mark.parametrize("n, width", [(1, 4), (3, 3), (5, 2)])
def test_amaranth_exhaustive_small(n, width):
    dut = AdderTree(n, width)
    lo, hi = -(1 << (width - 1)), (1 << (width - 1))
    grid = np.stack(np.meshgrid(*[np.arange(lo, hi)] * n, indexing="ij"), -1).reshape(-1, n)
    got = run_comb(dut, [[(dut.x[i], int(v)) for i, v in enumerate(row)] for row in grid],
                   lambda ctx: ctx.get(dut.sum))
    assert got == adder_tree_sum(grid, n=n, width=width).tolist()
    assert len(dut.sum) == adder_tree_width(n, width)


@pytest.mark.parametrize("n, k", [(16, 1), (16, 2), (7, 2), (5, 3)])
def test_amaranth_pipelined_latency(n, k):
    dut = AdderTree(n, 6, register_every=k)
    rng = np.random.default_rng(n * k)
    xs = rng.integers(-32, 32, size=(40, n))
    want = adder_tree_sum(xs, n=n, width=6).tolist()
    got = []

    async def bench(ctx):
        for t in range(len(xs) + dut.latency):
            if t < len(xs):
                for i in range(n):
                    ctx.set(dut.x[i], int(xs[t, i]))
            if t >= dut.latency:
                got.append(ctx.get(dut.sum))
            await ctx.tick()

    run_sync(dut, bench)
    assert dut.latency == adder_tree_latency(n, k)
    assert got == want


@pytest.mark.cocotb
@pytest.mark.parametrize("n, width, k", [(16, 8, 0), (16, 8, 2), (7, 12, 1), (1, 5, 0)])
def test_cocotb_verilog(n, width, k, build_dir):
    run_cocotb(AdderTree(n, width, k), toplevel="adder_tree", tb_module="sim.tb_adder_tree",
               build_dir=build_dir, params={"n": n, "width": width, "register_every": k})
