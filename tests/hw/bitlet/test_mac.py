"""hw/bitlet/mac.py: the Bitlet MAC datapath against its golden lane sum, step by step (Amaranth
simulator), every cycle of its generated Verilog (cocotb, sim/tb_bitlet_mac.py), and bad parameters."""

import json
import re

import numpy as np
import pytest

from golden.bits import signed_width
from hw.bitlet.mac import BitletMAC, mac_step_value
from fpga.pin_wrapper import BlockPinWrapper
from fpga.registry import get_config
from fpga.verilog import to_verilog
from sim.amaranth_sim import run_sync
from sim.runner import run_cocotb


def act_range(x_width, act_signed):
    """The activations the MAC sees: signed ``x_width``-bit, or unsigned ``x_width - 1``-bit."""
    hi = (1 << (x_width - 1)) - 1
    return (-hi - 1 if act_signed else 0), hi


def random_steps(rng, n, lanes, n_steps):
    steps = []
    for _ in range(n_steps):
        idx = rng.integers(-1, n, lanes)                 # -1: the lane has a bubble
        sel = [0 if i < 0 else 1 << int(i) for i in idx]
        neg = [int(s != 0 and rng.random() < 0.5) for s in sel]
        steps.append((sel, neg))
    return steps


def random_passes(rng, n, lanes, x_width, act_signed, n_passes, max_steps=5):
    """``n_passes`` passes ``(acts, steps)`` of 1..``max_steps`` random steps; pass 0 has the extreme
    activation in every pair."""
    lo, hi = act_range(x_width, act_signed)
    passes = []
    for k in range(n_passes):
        acts = [int(v) for v in rng.integers(lo, hi + 1, n)]
        if k == 0:
            acts = [lo if act_signed else hi] * n        # the extreme activation in every lane
        passes.append((acts, random_steps(rng, n, lanes, int(rng.integers(1, max_steps + 1)))))
    return passes


def extreme_passes(n, lanes, x_width, act_signed):
    """The two passes of largest magnitude: ``n`` steps, lane ``g`` of step ``s`` selects pair ``s`` (every
    pair at every significance once, as in a Bitlet pass), every activation the extreme one, ``neg`` all
    set / all clear."""
    lo, hi = act_range(x_width, act_signed)
    acts = [lo if act_signed else hi] * n
    return [(acts, [([1 << s] * lanes, [neg] * lanes) for s in range(n)]) for neg in (1, 0)]


def pass_sum(acts, steps):
    """Golden result of a pass: the sum of its steps' :func:`mac_step_value`."""
    return sum(mac_step_value(acts, sel, neg) for sel, neg in steps)


def mac_cycles(rng, passes, x_width, act_signed, aborts=()):
    """The MAC's inputs in every cycle of ``passes`` and what it must show then.

    Before each step a random run of cycles without a step (half of them with ``hold``); whenever no step
    enters, the data inputs and ``first``/``last`` are random. A pass in ``aborts`` gets its first half of
    steps only, then at once a ``clear`` cycle (``hold`` random). Expected per cycle: ``[acc, acc_next,
    finishing]`` from a pipeline of ``BitletMAC.latency`` stages that moves when ``hold`` is low, the last
    of which adds its step's :func:`mac_step_value` to ``acc`` (to 0 on ``first``); ``None`` where the block
    defines no value (``acc_next`` with no step there, ``acc`` from a ``clear`` to the next accumulation).
    """
    lo, hi = act_range(x_width, act_signed)
    n, lanes = len(passes[0][0]), len(passes[0][1][0][0])

    def cycle(**kw):
        junk = dict(acts=[int(v) for v in rng.integers(lo, hi + 1, n)],
                    sel=[1 << int(i) for i in rng.integers(0, n, lanes)],
                    neg=[int(v) for v in rng.integers(0, 2, lanes)], first=int(rng.integers(2)),
                    last=int(rng.integers(2)), step=0, hold=0, clear=0)
        return junk | kw

    cycles = []
    for k, (acts, steps) in enumerate(passes):
        end = (len(steps) + 1) // 2 if k in aborts else len(steps)
        for s, (sel, neg) in enumerate(steps[:end]):
            while rng.random() < 0.3:
                cycles.append(cycle(hold=int(rng.random() < 0.5)))
            cycles.append(cycle(acts=acts, sel=sel, neg=neg, step=1, first=int(s == 0),
                                last=int(s == len(steps) - 1)))
        if k in aborts:
            cycles.append(cycle(clear=1, hold=int(rng.random() < 0.5)))
    cycles += [cycle() for _ in range(BitletMAC.latency + 2)]
    pipe, acc, want = [None] * BitletMAC.latency, 0, []
    for c in cycles:
        top = pipe[-1]                                   # (step value, first, last) in the accumulate stage
        nxt = None if top is None else (0 if top[1] else acc) + top[0]
        want.append([acc, nxt, int(top is not None and top[2])])
        if not c["hold"]:
            acc = acc if top is None else nxt
            step = (mac_step_value(c["acts"], c["sel"], c["neg"]), c["first"], c["last"])
            pipe = [step if c["step"] else None] + pipe[:-1]
        if c["clear"]:
            pipe, acc = [None] * BitletMAC.latency, None
    return cycles, want


@pytest.mark.parametrize("n, lanes, x_width, act_signed", [(16, 8, 8, True), (8, 24, 25, False), (5, 3, 2, True)])
def test_mac_accumulates_golden_lane_sums(n, lanes, x_width, act_signed):
    rng = np.random.default_rng(n * lanes + x_width)
    mac = BitletMAC(n, lanes, x_width, act_signed, 64)
    passes = random_passes(rng, n, lanes, x_width, act_signed, 12)
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
    want = [pass_sum(acts, steps) for acts, steps in passes]
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


@pytest.mark.parametrize("value", ["False", 0, 1, None])
def test_act_signed_must_be_a_bool(value):
    # a truthy string such as "False" built a signed MAC
    with pytest.raises(TypeError, match=re.escape(f"act_signed must be a bool (True or False), got {value!r}")):
        BitletMAC(16, 8, 8, value, 20)
    assert BitletMAC(16, 8, 8, np.bool_(False), 20).act_signed is False


def test_block_wrapper_takes_every_input_bit():
    mac = BitletMAC(4, 2, 4, True, 8)
    top = BlockPinWrapper(mac)
    assert top.payload_width == 4 * 4 + 2 * 4 + 2 + 5      # acts, one-hot sels, negs, five controls
    text = to_verilog(top, "top")
    assert "module top" in text and "sresult" in text


@pytest.mark.cocotb
@pytest.mark.parametrize("kwargs", [
    get_config("bitlet_mac_n16").params,                        # INT8, as synthesised
    dict(n_total=6, n_lanes=5, x_width=25, act_signed=False),   # fp32-like: unsigned 24-bit mantissas
], ids=["int8_n16", "fp32_n6"])
def test_cocotb_verilog(kwargs, build_dir):
    n, lanes, xw, sgn = (kwargs[k] for k in ("n_total", "n_lanes", "x_width", "act_signed"))
    extremes = extreme_passes(n, lanes, xw, sgn)
    lo, hi = sorted(pass_sum(*p) for p in extremes)
    assert lo == -hi
    acc_width = signed_width(lo, hi)                  # the exact worst case: the extremes need every bit
    assert kwargs.get("acc_width", acc_width) == acc_width
    rng = np.random.default_rng(n * lanes + xw)
    passes = extremes + random_passes(rng, n, lanes, xw, sgn, 30, max_steps=n)   # <= n steps: within hi
    aborts = {k for k in range(1, len(passes) - 1, 4) if len(passes[k][1]) > 1}  # pass 1: an extreme one
    vec = {}
    for name, cut in (("random_passes", ()), ("clear_mid_pass", aborts)):
        cycles, want = mac_cycles(rng, passes, xw, sgn, cut)
        vec[name] = dict(cycles=cycles, want=want,
                         results=[pass_sum(*p) for k, p in enumerate(passes) if k not in cut])
    path = build_dir / "vectors.json"
    path.write_text(json.dumps(vec))
    mac = BitletMAC(n, lanes, xw, sgn, acc_width)
    assert run_cocotb(mac, toplevel=f"bitlet_mac_n{n}", tb_module="sim.tb_bitlet_mac", build_dir=build_dir,
                      params={"vectors": str(path)}) == 2
