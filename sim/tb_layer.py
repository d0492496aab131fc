"""cocotb bench of a layer engine (hw/array/layer.py) on its generated Verilog.

The pytest side (:func:`sim.engine_vectors.write_engine_vectors`) computes every expected value with
the golden model and writes them to ``BITSPARSE_PARAMS["vectors"]``: per layer, the load-port words,
the descriptor word, the expected drained words and the exact compute cycles
(:func:`golden.array.engine_cycles`). The bench plays the host: it loads every word with random idle
cycles (``load_prob``), checks ``load_error`` is low, pulses ``start``, takes the drained words with
random back-pressure (``drain_prob``) and checks the words (exact, in order, none lost or duplicated),
the engine's ``cycles`` counter, and that ``busy`` went low. Simulated cycles and wall-clock seconds of
the run are written to ``BITSPARSE_PARAMS["speed"]`` (simulation speed, for docs/array.md).
"""

import json
import time

import cocotb
import numpy as np
from cocotb.clock import Clock
from cocotb.triggers import FallingEdge, RisingEdge

from sim.runner import test_params
from sim.streams import PERIOD_NS, StreamDriver, now


def _signed(word: int, width: int) -> int:
    return word - (1 << width) if word >> (width - 1) else word


@cocotb.test()
async def layers(dut):
    p = test_params()
    with open(p["vectors"]) as f:
        v = json.load(f)
    rng = np.random.default_rng(v["seed"])
    cocotb.start_soon(Clock(dut.clk, PERIOD_NS, unit="ns").start())
    dut.rst.value = 1
    dut.start.value = 0
    dut.load__valid.value = 0
    dut.drain__ready.value = 0
    await FallingEdge(dut.clk)
    await FallingEdge(dut.clk)
    dut.rst.value = 0
    t_wall, c0 = time.perf_counter(), now()
    for n, layer in enumerate(v["layers"]):
        driver = StreamDriver(dut, "load")
        await driver.send([int(w, 16) for w in layer["load"]], in_prob=v["load_prob"], rng=rng)
        assert len(driver.accepted) == len(layer["load"]), f"layer {n}: load words lost"
        assert not int(dut.load_error.value), f"layer {n}: load_error after {len(layer['load'])} words"
        dut.desc.value = int(layer["desc"], 16)
        dut.start.value = 1
        await FallingEdge(dut.clk)
        dut.start.value = 0
        got = []
        for _ in range(layer["n_out"]):
            while True:
                dut.drain__ready.value = int(rng.random() < v["drain_prob"])
                await RisingEdge(dut.clk)
                taken = int(dut.drain__valid.value) and int(dut.drain__ready.value)
                word = dut.drain__payload.value.to_unsigned() if taken else None
                await FallingEdge(dut.clk)
                if taken:
                    got.append(_signed(word, v["out_width"]))
                    break
                assert now() - c0 < v["max_cycles"], f"layer {n}: timeout with {len(got)} outputs"
        dut.drain__ready.value = 0
        while int(dut.busy.value):
            await FallingEdge(dut.clk)
            assert now() - c0 < v["max_cycles"], f"layer {n}: busy never fell"
        want = layer["expected"]
        bad = [i for i, (g, w) in enumerate(zip(got, want)) if g != w]
        assert got == want, (f"layer {n}: {len(bad)} of {len(want)} outputs differ, first at {bad[:1]}: "
                             f"got {[got[i] for i in bad[:4]]}, want {[want[i] for i in bad[:4]]}")
        cycles = int(dut.cycles.value)
        assert cycles == layer["cycles"], f"layer {n}: {cycles} compute cycles, the model says {layer['cycles']}"
    if p.get("speed"):
        with open(p["speed"], "w") as f:
            json.dump({"cycles": now() - c0, "seconds": time.perf_counter() - t_wall}, f)
