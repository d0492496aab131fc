"""Small helpers for Amaranth-simulator unit tests (the fast tier, before Icarus)."""

from __future__ import annotations

from amaranth.sim import Simulator


def run_comb(component, vectors, read):
    """Drive a combinational ``component`` with each vector; return ``read(ctx)`` for each.

    ``vectors`` is a list of ``[(signal, value), ...]`` (signals are not hashable, hence pairs).
    """
    results = []

    async def bench(ctx):
        for vec in vectors:
            for port, value in vec:
                ctx.set(port, value)
            results.append(read(ctx))

    sim = Simulator(component)
    sim.add_testbench(bench)
    sim.run()
    return results


def run_sync(component, bench_fn, *, period=1e-6):
    """Run ``async bench_fn(ctx)`` against a component with a ``sync`` clock domain."""
    sim = Simulator(component)
    sim.add_clock(period)
    sim.add_testbench(bench_fn)
    sim.run()


def run_pe_groups(pe, payloads, *, sample=None):
    """Feed a streaming PE (``hw/pe.py``) one group at a time, output always ready.

    Returns, per group, ``(result, cycle-counter delta, sample(pe, ctx))`` (the last is None without
    ``sample``), read in the cycle the result is valid.
    """
    out = []

    async def bench(ctx):
        ctx.set(pe.o.ready, 1)
        before = 0
        for pl in payloads:
            ctx.set(pe.i.valid, 1)
            ctx.set(pe.i.payload, pl)
            await ctx.tick().until(pe.i.ready)
            ctx.set(pe.i.valid, 0)
            await ctx.tick().until(pe.o.valid)
            c = ctx.get(pe.cycles)
            out.append((ctx.get(pe.o.payload), c - before, sample(pe, ctx) if sample else None))
            before = c

    run_sync(pe, bench)
    return out
