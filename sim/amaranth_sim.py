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
