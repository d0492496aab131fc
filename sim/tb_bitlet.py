"""cocotb bench for the Bitlet PE (``hw/bitlet/pe.py``): multi-beat passes, pass-by-pass cycle exactness.

The pytest side (tests/hw/bitlet/test_pe.py) writes the vectors (``BITSPARSE_PARAMS["vectors"]``), all from
the golden model: the packed input beats, the result of every pass (a signed integer in fixed mode, the
binary32 bit pattern as an unsigned integer in fp32 mode), and the timing of
:func:`golden.bitlet.pe_stream_timing` (``steps``, ``last_beat``, ``out_valid`` per pass). Scenarios:

* ``back_to_back``: input always valid, output always ready. Results exact and in order; the cycle of
  every pass's last beat and of every result equal the timing model (cycle 0 = first beat); the
  ``cycles`` counter, sampled when result ``p`` appears, equals the timing model's ``counter`` (the lane
  model's steps run so far, pass by pass) and ends at the total.
* ``random_backpressure``: random input gaps and random ``o.ready``: results exact, none lost or
  duplicated, counter equals the total.
* ``clear_mid_pass`` / ``reset_mid_pass``: the pass with the most steps is loaded, its result held back,
  and ``clear`` (``rst``) is pulsed half way through it; afterwards every pass runs and exactly their
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

from sim.runner import test_params
from sim.tb_pe import run_stream, start


def load():
    p = test_params()
    with open(p["vectors"]) as f:
        v = json.load(f)
    return p, v


def read_result(dut, fp32):
    return dut.o__payload.value.to_unsigned() if fp32 else dut.o__payload.value.to_signed()


async def run_passes(dut, beats, n_results, *, fp32, in_prob=1.0, out_prob=1.0, seed=0):
    """Drive the beats, collect ``n_results`` results (``sim.tb_pe.run_stream`` with Bitlet's result
    reading). Returns (results, output stamps, beat accept stamps, cycle counter at each output)."""
    return await run_stream(dut, beats, n_results=n_results, in_prob=in_prob, out_prob=out_prob,
                            seed=seed, max_cycles=10**6, read=lambda d: read_result(d, fp32),
                            sample=lambda d: int(d.cycles.value))


def check_results(got, want, fp32):
    assert len(got) == len(want), f"{len(got)} results for {len(want)} passes"
    for g, (a, b) in enumerate(zip(got, want)):
        if fp32:
            assert a == b, f"pass {g}: PE gave 0x{a:08x}, golden 0x{b:08x}"
        else:
            assert a == b, f"pass {g}: PE gave {a}, golden {b}"


@cocotb.test()
async def back_to_back(dut):
    p, v = load()
    fp32, L = p["fp32"], v["load_cycles"]
    await start(dut)
    got, out_t, in_t, counter = await run_passes(dut, v["beats"], len(v["results"]), fp32=fp32)
    check_results(got, v["results"], fp32)
    t0 = in_t[0]
    last_beats = [t - t0 for t in in_t[L - 1::L]]
    steps = v["steps"]
    for g in range(len(steps)):
        assert last_beats[g] == v["last_beat"][g], (
            f"pass {g}: last beat accepted at cycle {last_beats[g]}, timing model {v['last_beat'][g]}")
        assert out_t[g] - t0 == v["out_valid"][g], (
            f"pass {g}: result at cycle {out_t[g] - t0}, timing model {v['out_valid'][g]} "
            f"(steps {steps[g]}, last beat {v['last_beat'][g]})")
        assert counter[g] == v["counter"][g], (
            f"pass {g}: cycle counter {counter[g]} at its result, timing model {v['counter'][g]} "
            f"(this pass {steps[g]} steps)")
    await FallingEdge(dut.clk)
    assert int(dut.cycles.value) == sum(steps), f"cycle counter {int(dut.cycles.value)}, model {sum(steps)}"


@cocotb.test()
async def random_backpressure(dut):
    p, v = load()
    await start(dut)
    got, _, _, _ = await run_passes(dut, v["beats"], len(v["results"]), fp32=p["fp32"], in_prob=0.7,
                                    out_prob=0.4, seed=p.get("seed", 1))
    check_results(got, v["results"], p["fp32"])
    await FallingEdge(dut.clk)
    assert int(dut.cycles.value) == sum(v["steps"]), (
        f"cycle counter {int(dut.cycles.value)}, model {sum(v['steps'])}")


async def pulse(dut, use_reset):
    if use_reset:
        dut.rst.value = 1
    else:
        dut.clear.value = 1
    await FallingEdge(dut.clk)
    dut.rst.value = 0
    dut.clear.value = 0


async def run_all_after(dut, p, v):
    assert int(dut.o__valid.value) == 0, "an aborted pass must not leave a result"
    assert int(dut.cycles.value) == 0, "clear/reset must zero the cycle counter"
    got, _, _, _ = await run_passes(dut, v["beats"], len(v["results"]), fp32=p["fp32"], in_prob=0.9,
                                    out_prob=0.8, seed=3)
    check_results(got, v["results"], p["fp32"])
    for _ in range(5):                       # and nothing else comes out afterwards
        dut.o__ready.value = 1
        await RisingEdge(dut.clk)
        assert int(dut.o__valid.value) == 0, "an extra result appeared after the last pass"
        await FallingEdge(dut.clk)
    await FallingEdge(dut.clk)
    assert int(dut.cycles.value) == sum(v["steps"])


async def feed(dut, beats, why):
    """Offer ``beats`` one per cycle, each of which must be accepted at once (``why`` says why)."""
    for b in beats:
        dut.i__valid.value = 1
        dut.i__payload.value = b
        await RisingEdge(dut.clk)
        assert int(dut.i__ready.value), why
        await FallingEdge(dut.clk)
    dut.i__valid.value = 0


async def abort_then_run(dut, use_reset):
    p, v = load()
    L = v["load_cycles"]
    await start(dut)
    g = int(np.argmax(v["steps"]))
    dut.o__ready.value = 0
    await feed(dut, v["beats"][g * L:(g + 1) * L], "an idle PE must accept every beat of a pass")
    for _ in range(max(v["steps"][g] // 2, 1)):
        await FallingEdge(dut.clk)
    await pulse(dut, use_reset)
    await run_all_after(dut, p, v)


@cocotb.test()
async def clear_mid_pass(dut):
    await abort_then_run(dut, use_reset=False)


@cocotb.test()
async def reset_mid_pass(dut):
    await abort_then_run(dut, use_reset=True)


@cocotb.test()
async def clear_mid_load(dut):
    p, v = load()
    L = v["load_cycles"]
    await start(dut)
    dut.o__ready.value = 1
    g = len(v["results"]) // 2
    await feed(dut, v["beats"][g * L:g * L + max(L - 1, 0)],      # all but the last beat of pass g
               "beats before a pass's last must be accepted")
    await pulse(dut, use_reset=False)
    await run_all_after(dut, p, v)


@cocotb.test()
async def clear_while_waiting(dut):
    p, v = load()
    L = v["load_cycles"]
    await start(dut)
    dut.o__ready.value = 1
    g = int(np.argmax(v["steps"][:-2]))
    await feed(dut, v["beats"][g * L:(g + 1) * L], "an idle PE must accept every beat of a pass")
    # offer the passes behind it: fixed point takes all but the last beat of pass g + 1 (its last beat
    # waits at the input) and waits half of pass g; fp32 takes pass g + 1 into the aligned registers and
    # pass g + 2 into the staging buffer, where it is pending two cycles after its last beat
    nxt = list(v["beats"][(g + 1) * L:((g + 3) if p["fp32"] else (g + 2)) * L])
    waited, settle = 0, 0
    while (settle < 3 if p["fp32"] else waited < max(v["steps"][g] // 2, 1)):
        assert not p["fp32"] or waited < 4 * L + 10, "fp32: the two passes behind the computing one were not taken"
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
    await pulse(dut, use_reset=False)
    await run_all_after(dut, p, v)
