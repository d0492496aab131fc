"""Helpers for Amaranth-simulator unit tests (the fast tier, before Icarus).

PE streams are driven as Glasgow's gateware tests do: a producer testbench (:func:`stream_put`) and a
consumer testbench (:func:`stream_get`) run side by side (:func:`run_pe_stream`), so groups overlap
back to back as they do in an array, and every transfer is time-stamped in ticks.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
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


class StreamRun(NamedTuple):
    """What :func:`run_pe_stream` saw: results in order, and the tick of every input and output transfer."""

    results: list
    accepted: list
    produced: list
    samples: list


async def stream_put(ctx, stream, payload, *, gaps=0) -> int:
    """Producer: ``gaps`` idle ticks, then offer ``payload`` and hold it until it is taken. Returns the
    ticks spent (the transfer happens at the last one)."""
    ticks = 0
    for _ in range(gaps):
        ctx.set(stream.valid, 0)
        await ctx.tick()
        ticks += 1
    ctx.set(stream.valid, 1)
    ctx.set(stream.payload, payload)
    while True:
        *_, ready = await ctx.tick().sample(stream.ready)
        ticks += 1
        if ready:
            break
    ctx.set(stream.valid, 0)
    return ticks


async def stream_get(ctx, stream, *, ready=lambda: True, sample=None):
    """Consumer: wait for a transfer (``ready()`` decides ``stream.ready`` tick by tick). Returns
    ``(payload, ticks spent, sample values at the transfer)``."""
    ticks = 0
    while True:
        r = bool(ready())
        ctx.set(stream.ready, r)
        *_, valid, payload, extra = await ctx.tick().sample(stream.valid, stream.payload, sample if sample is not None else stream.valid)
        ticks += 1
        if valid and r:
            ctx.set(stream.ready, 0)
            return payload, ticks, extra


def run_pe_stream(pe, payloads, *, n_results=None, in_prob=1.0, out_prob=1.0, seed=0, sample=None) -> StreamRun:
    """Feed a PE (hw/pe.py) from a producer testbench while a consumer testbench takes its results:
    back to back by default, or with random gaps between input transfers (``in_prob``) and random
    ``o.ready`` (``out_prob``). ``sample`` (a signal or expression) is read at every output transfer."""
    n_results = len(payloads) if n_results is None else n_results
    rng = np.random.default_rng(seed)
    accepted, produced, results, samples = [], [], [], []

    async def producer(ctx):
        t = 0
        for p in payloads:
            gaps = 0
            while rng.random() >= in_prob:
                gaps += 1
            t += await stream_put(ctx, pe.i, p, gaps=gaps)
            accepted.append(t)

    async def consumer(ctx):
        t = 0
        for _ in range(n_results):
            word, ticks, extra = await stream_get(ctx, pe.o, ready=lambda: rng.random() < out_prob,
                                                  sample=sample)
            t += ticks
            results.append(word)
            produced.append(t)
            samples.append(extra)

    sim = Simulator(pe)
    sim.add_clock(1e-6)
    sim.add_testbench(producer)
    sim.add_testbench(consumer)
    sim.run()
    return StreamRun(results, accepted, produced, samples)


def run_pe_groups(pe, payloads, *, sample=None):
    """Feed a PE one group at a time, output always ready (each group's steps alone, nothing overlaps).

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
