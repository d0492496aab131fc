"""Run a layer on a :class:`hw.array.layer.LayerEngine` in the Amaranth simulator (the fast tier; the
cocotb bench :mod:`sim.tb_layer` does the same on the generated Verilog).

The host's three steps, as testbenches: load every buffer word through ``load`` (with random idle cycles
when ``load_prob < 1``), set the descriptor and pulse ``start``, take the drained outputs (with random
back-pressure when ``drain_prob < 1``); the engine's ``cycles`` counter is read at the end.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from amaranth.sim import Simulator

from sim.amaranth_sim import stream_get, stream_put

__all__ = ["EngineRun", "run_engine", "load_payload"]


class EngineRun(NamedTuple):
    outputs: list          # drained words as signed ints, in drain order
    cycles: int            # the engine's cycles counter after the layer
    load_error: int        # the engine's load_error flag after the loads, before start


def load_payload(buffer: int, addr: int, word: int) -> dict:
    """A ``load`` stream payload."""
    return {"buffer": buffer, "addr": addr, "data": word}


def run_engine(engine, layers, *, load_prob: float = 1.0, drain_prob: float = 1.0, seed: int = 0) -> list:
    """Run each image of ``layers`` (:class:`hw.array.images.LayerImage`) in turn; one
    :class:`EngineRun` per layer."""
    rng = np.random.default_rng(seed)
    runs = []

    async def host(ctx):
        for image in layers:
            for buffer, addr, word in image.load:
                gaps = 0
                while rng.random() >= load_prob:
                    gaps += 1
                await stream_put(ctx, engine.load, load_payload(buffer, addr, word), gaps=gaps)
            load_error = ctx.get(engine.load_error)
            ctx.set(engine.desc, image.desc)
            ctx.set(engine.start, 1)
            await ctx.tick()
            ctx.set(engine.start, 0)
            outputs = []
            if image.desc["drain"]:
                for _ in range(image.desc["channels"] * image.desc["tokens"]):
                    word, _, _ = await stream_get(ctx, engine.drain, ready=lambda: rng.random() < drain_prob)
                    outputs.append(int(word))
            while ctx.get(engine.busy):
                await ctx.tick()
            runs.append(EngineRun(outputs, ctx.get(engine.cycles), load_error))

    sim = Simulator(engine)
    sim.add_clock(1e-6)
    sim.add_testbench(host)
    sim.run()
    return runs
