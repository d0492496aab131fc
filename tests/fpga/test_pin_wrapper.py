"""fpga/pin_wrapper.py: the payload arrives through the one-pin shift register, and the output pin is the
registered XOR of every result and cycle-counter bit (what place and route is measured through)."""

import numpy as np

from golden.baselines import DenseConfig, stripes_dot
from fpga.pin_wrapper import PinWrapper
from hw.baselines.stripes import StripesPE
from sim.amaranth_sim import run_sync


def parity(v: int) -> int:
    return bin(v).count("1") & 1


def test_wrapper_feeds_payload_and_reduces_outputs():
    cfg = DenseConfig(bits=4, pe_length=3, act_bits=4)
    pe = StripesPE(cfg)
    top = PinWrapper(pe)
    w, a = [3, -8, 5], [-8, 7, -1]
    want = int(stripes_dot(np.array(w), np.array(a), cfg))
    (word,) = pe.pack([w], [a])
    width = pe.input_layout.size
    seen = {}

    async def bench(ctx):
        ctx.set(top.sshift, 1)
        for i in reversed(range(width)):           # MSB first: it ends at the top of the register
            ctx.set(top.sdata, (word >> i) & 1)
            await ctx.tick()
        ctx.set(top.sshift, 0)
        ctx.set(top.out_ready, 0)
        ctx.set(top.in_valid, 1)
        await ctx.tick().until(top.in_ready)
        ctx.set(top.in_valid, 0)
        await ctx.tick().until(top.out_valid)
        result = ctx.get(pe.o.payload)
        cycles = ctx.get(pe.cycles)
        await ctx.tick()                            # sresult is registered
        seen.update(result=result, cycles=cycles, pin=ctx.get(top.sresult))

    run_sync(top, bench)
    assert seen["result"] == want and seen["cycles"] == 4
    width_r = len(pe.o.payload)
    assert seen["pin"] == parity(want & ((1 << width_r) - 1)) ^ parity(4)
