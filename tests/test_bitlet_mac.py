"""hw/bitlet_mac.py: the Bitlet MAC datapath against its golden lane sum, step by step (Amaranth
simulator; its Verilog is exercised bit-exactly inside the Bitlet PE's cocotb benches), and bad
parameters."""

import numpy as np
import pytest

from hw.bitlet_mac import BitletMAC, mac_step_value
from hw.pin_wrapper import BlockPinWrapper
from hw.verilog import to_verilog
from sim.amaranth_sim import run_sync


def random_steps(rng, n, lanes, n_steps):
    steps = []
    for _ in range(n_steps):
        idx = rng.integers(-1, n, lanes)                 # -1: the lane has a bubble
        sel = [0 if i < 0 else 1 << int(i) for i in idx]
        neg = [int(s != 0 and rng.random() < 0.5) for s in sel]
        steps.append((sel, neg))
    return steps


@pytest.mark.parametrize("n, lanes, x_width, act_signed", [(16, 8, 8, True), (8, 24, 25, False), (5, 3, 2, True)])
def test_mac_accumulates_golden_lane_sums(n, lanes, x_width, act_signed):
    rng = np.random.default_rng(n * lanes + x_width)
    if act_signed:
        lo, hi = -(1 << (x_width - 1)), (1 << (x_width - 1)) - 1
    else:
        lo, hi = 0, (1 << (x_width - 1)) - 1
    acc_width = 64
    mac = BitletMAC(n, lanes, x_width, act_signed, acc_width)
    passes = []
    for k in range(12):
        acts = [int(v) for v in rng.integers(lo, hi + 1, n)]
        if k == 0:
            acts = [lo if act_signed else hi] * n        # the extreme activation in every lane
        passes.append((acts, random_steps(rng, n, lanes, int(rng.integers(1, 6)))))
    got, when = [], []

    async def bench(ctx):
        # passes back to back, a step per cycle; one hold of 3 cycles in pass 4; results collected
        # when the accumulate stage finishes a pass
        schedule = [(acts, sel, neg, s == 0, s == len(steps) - 1)
                    for acts, steps in passes for s, (sel, neg) in enumerate(steps)]
        t = 0
        for k in range(len(schedule) + BitletMAC.latency + 3):
            hold = int(k in (9, 10, 11))
            ctx.set(mac.hold, hold)
            if not hold and schedule:
                acts, sel, neg, first, last = schedule.pop(0)
                for i, a in enumerate(acts):
                    ctx.set(mac.acts[i], a)
                for g in range(lanes):
                    ctx.set(mac.sel[g], sel[g])
                    ctx.set(mac.neg[g], neg[g])
                ctx.set(mac.step, 1)
                ctx.set(mac.first, int(first))
                ctx.set(mac.last, int(last))
            else:
                ctx.set(mac.step, 0)
            if ctx.get(mac.finishing) and not hold:
                got.append(ctx.get(mac.acc_next))
                when.append(t)
            await ctx.tick()
            t += 1

    run_sync(mac, bench)
    want = [sum(mac_step_value(acts, sel, neg) for sel, neg in steps) for acts, steps in passes]
    assert got == want
    assert want[0] != 0
    # steps enter in the cycles without hold; each moves one stage per cycle without hold and is
    # accumulated in the latency-th such cycle after it entered
    free = [k for k in range(200) if k not in (9, 10, 11)]
    last_steps = np.cumsum([len(steps) for _, steps in passes]) - 1
    assert when == [free[int(i) + BitletMAC.latency] for i in last_steps]


def test_mac_step_value_refuses_a_select_that_is_not_one_hot():
    assert mac_step_value([3, 5], [0b10, 0b01], [1, 0]) == -5 + (3 << 1)
    with pytest.raises(ValueError, match=r"sel\[1\] must be one-hot or 0, got 0x3"):
        mac_step_value([3, 5], [0b10, 0b11], [0, 0])


@pytest.mark.parametrize("kwargs, msg", [
    (dict(n_total=65), r"n_total must be an integer in \[1, 64\], got 65"),
    (dict(n_lanes=0), r"n_lanes must be an integer in \[1, 24\], got 0"),
    (dict(x_width=26), r"x_width must be an integer in \[2, 25\], got 26"),
    (dict(acc_width=1), r"acc_width must be an integer in \[2, 64\], got 1"),
])
def test_bad_parameters(kwargs, msg):
    args = dict(n_total=16, n_lanes=8, x_width=8, act_signed=True, acc_width=20) | kwargs
    with pytest.raises(ValueError, match=msg):
        BitletMAC(**args)


def test_block_wrapper_takes_every_input_bit():
    mac = BitletMAC(4, 2, 4, True, 8)
    top = BlockPinWrapper(mac)
    assert top.payload_width == 4 * 4 + 2 * 4 + 2 + 5      # acts, one-hot sels, negs, five controls
    text = to_verilog(top, "top")
    assert "module top" in text and "sresult" in text
