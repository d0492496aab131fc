"""Generic cocotb bench for any PE of the contract of hw/pe.py (docs/contract.md).

The pytest side computes everything expected with the golden model and writes it to a JSON file
(``BITSPARSE_PARAMS["vectors"]``, :func:`sim.pe_vectors.write_vectors`): the PE's spec (class,
configuration, options: the bench rebuilds it to unpack results and to read its ``latency``), the
input words from :meth:`hw.pe.PE.pack`, the golden result of every group and the cycle model's steps
of every group. The driver, monitor and checker are :mod:`sim.streams`; the monitor checks the stream
rules on ``o`` and the reset rule on ``i`` in every scenario:

* ``back_to_back``: input always valid, output always ready. Results exact and in order; group ``g``
  is accepted when group ``g - 1`` ends (``cycles[g-1]`` cycles later) and its result appears
  ``cycles[g] + latency`` cycles after its acceptance; the ``cycles`` counter ends at the model's total.
* ``random_backpressure``: random gaps between input transfers and random ``o.ready``: results exact and
  in order, none lost or duplicated, counter equals the total.
* ``clear_mid_group`` / ``reset_mid_group``: the group with the most steps is started, its result held
  back, and ``clear`` (or ``rst``) is pulsed half way through it; afterwards every group runs and exactly
  their results come out (the aborted group's never does), and the counter restarts from zero.
"""

import json

import cocotb
import numpy as np
from cocotb.triggers import FallingEdge, RisingEdge

from hw.pe import PE
from sim.runner import test_params
from sim.streams import check_in_order, now, run_stream, start


def load():
    p = test_params()
    with open(p["vectors"]) as f:
        v = json.load(f)
    return p, PE.from_spec(v["pe"]), v["payloads"], v["results"], v["cycles"]


@cocotb.test()
async def back_to_back(dut):
    p, pe, payloads, want, cycles = load()
    monitor = await start(dut)
    words, out_t, in_t, _ = await run_stream(dut, monitor, payloads)
    check_in_order([pe.unpack(w) for w in words], want)
    for g in range(len(want)):
        assert out_t[g] - in_t[g] == cycles[g] + pe.latency, (
            f"group {g}: result {out_t[g] - in_t[g]} cycles after acceptance, model {cycles[g]} steps "
            f"+ latency {pe.latency}")
        if g:
            assert in_t[g] - in_t[g - 1] == cycles[g - 1], (
                f"group {g}: accepted {in_t[g] - in_t[g - 1]} cycles after group {g - 1}, which takes "
                f"{cycles[g - 1]} steps")
    assert int(dut.cycles.value) == sum(cycles), f"cycle counter {int(dut.cycles.value)}, model {sum(cycles)}"


@cocotb.test()
async def random_backpressure(dut):
    p, pe, payloads, want, cycles = load()
    monitor = await start(dut)
    words, _, _, _ = await run_stream(dut, monitor, payloads, in_prob=0.7, out_prob=0.4, seed=p.get("seed", 1))
    check_in_order([pe.unpack(w) for w in words], want)
    await FallingEdge(dut.clk)
    assert int(dut.cycles.value) == sum(cycles), f"cycle counter {int(dut.cycles.value)}, model {sum(cycles)}"


async def abort_then_run(dut, use_reset):
    p, pe, payloads, want, cycles = load()
    monitor = await start(dut, out_prob=0.0)
    # start the group with the most steps, hold its result back, and abort it half way
    g = int(np.argmax(cycles))
    dut.i__valid.value = 1
    dut.i__payload.value = payloads[g]
    await RisingEdge(dut.clk)
    assert int(dut.i__ready.value), "an idle PE must accept a group"
    await FallingEdge(dut.clk)
    dut.i__valid.value = 0
    for _ in range(max(cycles[g] // 2, 1)):
        await FallingEdge(dut.clk)
    (dut.rst if use_reset else dut.clear).value = 1
    await FallingEdge(dut.clk)
    dut.rst.value = 0
    dut.clear.value = 0
    assert int(dut.o__valid.value) == 0, "an aborted group must not leave a result"
    assert int(dut.cycles.value) == 0, "clear/reset must zero the cycle counter"
    words, _, _, _ = await run_stream(dut, monitor, payloads, in_prob=0.9, out_prob=0.8, seed=3)
    check_in_order([pe.unpack(w) for w in words], want)
    monitor.out_prob = 1.0                  # and nothing else comes out afterwards
    t_end = now()
    for _ in range(max(cycles) + 5):
        await FallingEdge(dut.clk)
    assert monitor.words == words, f"an extra result appeared after the last group (after cycle {t_end})"


@cocotb.test()
async def clear_mid_group(dut):
    await abort_then_run(dut, use_reset=False)


@cocotb.test()
async def reset_mid_group(dut):
    await abort_then_run(dut, use_reset=True)
