"""cocotb bench for the Bitlet PE (``hw/bitlet/pe.py``): multi-beat passes, pass-by-pass cycle exactness.

The pytest side (tests/hw/bitlet/test_pe.py) writes the vectors (``BITSPARSE_PARAMS["vectors"]``,
:func:`sim.pe_vectors.write_vectors`), all from the golden model: the PE's spec (the bench rebuilds the PE
to unpack results and read its ``latency``), the input beats from ``pe.pack``, the result of every pass
(the integer, or in fp32 the binary32 bit pattern: results are compared bit for bit, NaN included),
and the timing of :func:`golden.bitlet.pe_stream_timing` (``cycles`` = steps, ``last_beat``,
``out_valid``, ``counter`` per pass). Driver, monitor and checker: :mod:`sim.streams` (the monitor checks
the stream rules on ``o`` and ``i.ready`` low during ``clear``/``rst`` in every scenario). Scenarios:

* ``back_to_back``: input always valid, output always ready. Results exact and in order; the cycle of
  every pass's last beat and of every result equal the timing model (cycle 0 = first beat), a result is
  ``steps + latency`` cycles after its last beat when nothing waits (always in fixed point, for the first
  pass in fp32, never less); the ``cycles`` counter, sampled at result ``p``, equals the model's
  ``counter`` (the lane model's steps run so far) and ends at the total.
* ``random_backpressure``: random input gaps and random ``o.ready``: results exact, none lost or
  duplicated, counter equals the total.
* ``abort_mid_pass`` (``clear``, and ``rst``): the pass with the most steps is loaded, its result held
  back, and ``clear`` (``rst``) is pulsed half way through it; afterwards every pass runs and exactly their
  results come out, the counter restarts from zero.
* ``clear_while_waiting``: the pass with the most steps is loaded and the next passes are offered behind
  it (fixed: the next pass's last beat waits at the input; fp32: the next pass waits in the aligned
  registers and the one after it, pending, in the staging buffer), then ``clear``: all are dropped and
  every pass then runs exactly.
* ``clear_mid_load``: beats ``0 .. L-2`` of a pass are accepted, then ``clear``: the partial pass is
  dropped (the next beat is beat 0 again) and every pass then runs exactly (with ``L = 1``: a plain
  clear between passes).
"""

import json

import cocotb
import numpy as np
from cocotb.triggers import FallingEdge, RisingEdge

from hw.pe import PE
from sim.runner import test_params
from sim.streams import check_in_order, run_stream, start


async def setup(dut, out_prob=1.0):
    """The parameters, the vectors, the PE they were made for, and the monitor after reset."""
    p = test_params()
    with open(p["vectors"]) as f:
        v = json.load(f)
    pe = PE.from_spec(v["pe"])
    monitor = await start(dut, out_prob=out_prob, sample=lambda d: int(d.cycles.value))
    return p, v, pe, pe.config.load_cycles, monitor


def results_of(pe, words):
    """Output words as the vectors hold results: integers, or binary32 bit patterns (fp32)."""
    values = [pe.unpack(w) for w in words]
    return [int(x.view(np.uint32)) for x in values] if pe.fp32 else values


def check_results(pe, words, want):
    check_in_order(results_of(pe, words), want, what="pass", fmt=(lambda x: f"0x{x:08x}") if pe.fp32 else str)


async def check_counter(dut, v):
    await FallingEdge(dut.clk)
    got, want = int(dut.cycles.value), sum(v["cycles"])
    assert got == want, f"cycle counter {got}, model {want}"


@cocotb.test()
async def back_to_back(dut):
    p, v, pe, L, monitor = await setup(dut)
    words, out_t, in_t, counter = await run_stream(dut, monitor, v["payloads"], n_results=len(v["results"]))
    check_results(pe, words, v["results"])
    t0 = in_t[0]
    last_beats = [t - t0 for t in in_t[L - 1::L]]
    steps = v["cycles"]
    for g in range(len(steps)):
        assert last_beats[g] == v["last_beat"][g], (
            f"pass {g}: last beat accepted at cycle {last_beats[g]}, timing model {v['last_beat'][g]}")
        assert out_t[g] - t0 == v["out_valid"][g], (
            f"pass {g}: result at cycle {out_t[g] - t0}, timing model {v['out_valid'][g]} "
            f"(steps {steps[g]}, last beat {v['last_beat'][g]})")
        wait = out_t[g] - t0 - last_beats[g] - steps[g] - pe.latency
        assert wait == 0 if (g == 0 or not pe.fp32) else wait >= 0, (
            f"pass {g}: result {out_t[g] - t0 - last_beats[g]} cycles after its last beat, steps {steps[g]} "
            f"+ latency {pe.latency}")
        assert counter[g] == v["counter"][g], (
            f"pass {g}: cycle counter {counter[g]} at its result, timing model {v['counter'][g]} "
            f"(this pass {steps[g]} steps)")
    await check_counter(dut, v)


@cocotb.test()
async def random_backpressure(dut):
    p, v, pe, L, monitor = await setup(dut)
    words, _, _, _ = await run_stream(dut, monitor, v["payloads"], n_results=len(v["results"]), in_prob=0.7,
                                      out_prob=0.4, seed=p.get("seed", 1))
    check_results(pe, words, v["results"])
    await check_counter(dut, v)


async def pulse_then_run_all(dut, v, pe, monitor, use_reset=False):
    """Pulse ``clear`` (or ``rst``) for a cycle, then every pass runs exactly and nothing else comes out."""
    flush = dut.rst if use_reset else dut.clear
    flush.value = 1
    await FallingEdge(dut.clk)
    flush.value = 0
    assert (int(dut.o__valid.value), int(dut.cycles.value)) == (0, 0), (
        "clear/reset must drop the aborted pass's result and zero the cycle counter")
    words, _, _, _ = await run_stream(dut, monitor, v["payloads"], n_results=len(v["results"]), in_prob=0.9,
                                      out_prob=0.8, seed=3)
    check_results(pe, words, v["results"])
    monitor.out_prob = 1.0                   # and nothing else comes out afterwards
    for _ in range(5):
        await FallingEdge(dut.clk)
    assert monitor.words == words, "an extra result appeared after the last pass"
    await check_counter(dut, v)


async def feed(dut, beats, why):
    """Offer ``beats`` one per cycle, each of which must be accepted at once (``why`` says why)."""
    for b in beats:
        dut.i__valid.value = 1
        dut.i__payload.value = b
        await RisingEdge(dut.clk)
        assert int(dut.i__ready.value), why
        await FallingEdge(dut.clk)
    dut.i__valid.value = 0


@cocotb.test()
@cocotb.parametrize(use_reset=[False, True])
async def abort_mid_pass(dut, use_reset):
    p, v, pe, L, monitor = await setup(dut, out_prob=0.0)
    g = int(np.argmax(v["cycles"]))
    await feed(dut, v["payloads"][g * L:(g + 1) * L], "an idle PE must accept every beat of a pass")
    for _ in range(max(v["cycles"][g] // 2, 1)):
        await FallingEdge(dut.clk)
    await pulse_then_run_all(dut, v, pe, monitor, use_reset)


@cocotb.test()
async def clear_mid_load(dut):
    p, v, pe, L, monitor = await setup(dut)
    g = len(v["results"]) // 2
    await feed(dut, v["payloads"][g * L:g * L + max(L - 1, 0)],      # all but the last beat of pass g
               "beats before a pass's last must be accepted")
    await pulse_then_run_all(dut, v, pe, monitor)


@cocotb.test()
async def clear_while_waiting(dut):
    p, v, pe, L, monitor = await setup(dut)
    g = int(np.argmax(v["cycles"][:-2]))
    await feed(dut, v["payloads"][g * L:(g + 1) * L], "an idle PE must accept every beat of a pass")
    # offer the passes behind it: fixed point takes all but the last beat of pass g + 1 (its last beat
    # waits at the input) and waits half of pass g; fp32 takes pass g + 1 into the aligned registers and
    # pass g + 2 into the staging buffer, where it is pending two cycles after its last beat
    nxt = list(v["payloads"][(g + 1) * L:((g + 3) if pe.fp32 else (g + 2)) * L])
    waited, settle = 0, 0
    while (settle < 3 if pe.fp32 else waited < max(v["cycles"][g] // 2, 1)):
        assert not pe.fp32 or waited < 4 * L + 10, "fp32: the two passes behind the computing one were not taken"
        dut.i__valid.value = 1 if nxt else 0
        if nxt:
            dut.i__payload.value = nxt[0]
        await RisingEdge(dut.clk)
        if nxt and int(dut.i__ready.value):
            nxt.pop(0)
        await FallingEdge(dut.clk)
        waited += 1
        settle += not nxt
    dut.i__valid.value = 0
    assert int(dut.o__valid.value) == 0, "no result may be out before the pass with the most steps ends"
    await pulse_then_run_all(dut, v, pe, monitor)
