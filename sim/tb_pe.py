"""Generic cocotb bench for any PE that follows the streaming contract of ``hw/pe.py``.

The pytest side computes everything expected with the golden model and writes it to a JSON file
(``BITSPARSE_PARAMS["vectors"]``): the packed input payloads, the exact result of every group and the
cycle count of every group from the cycle model. This bench only drives and compares:

* ``back_to_back``: input always valid, output always ready. Results in order and exact; the interval
  between consecutive outputs equals the model's cycles of the later group; the first result appears
  ``cycles[0] + 1`` cycles after acceptance; the ``cycles`` counter ends at the model's total.
* ``random_backpressure``: random gaps on the input and random ``o.ready``: results exact and in order,
  none lost or duplicated, counter equals the total.
* ``clear_mid_group`` / ``reset_mid_group``: a group is started, then ``clear`` (or ``rst``) is pulsed in
  the middle of it while its result cannot be consumed; afterwards every group runs and exactly their
  results come out (the aborted group's never does), and the counter restarts from zero.
"""

import json

import cocotb
import numpy as np
from cocotb.clock import Clock
from cocotb.triggers import FallingEdge, RisingEdge

from sim.runner import test_params


def load():
    p = test_params()
    with open(p["vectors"]) as f:
        v = json.load(f)
    return p, v["payloads"], v["results"], v["cycles"]


async def start(dut):
    cocotb.start_soon(Clock(dut.clk, 10, unit="ns").start())
    dut.rst.value = 1
    dut.clear.value = 0
    dut.i__valid.value = 0
    dut.o__ready.value = 0
    await FallingEdge(dut.clk)
    await FallingEdge(dut.clk)
    dut.rst.value = 0


def signed_result(dut):
    return dut.o__payload.value.to_signed()


async def run_stream(dut, payloads, *, in_prob=1.0, out_prob=1.0, seed=0, max_cycles=10**7,
                     n_results=None, read=signed_result, sample=None):
    """Drive all payloads, collect ``n_results`` results (default: one per payload).

    ``read(dut)`` reads a result at an output handshake; ``sample(dut)``, if given, is read there too
    (a status flag, the cycle counter). Returns ``(results, output stamps, accept stamps, samples)``.
    Every payload must have been accepted by the time the last result is out.
    """
    n_results = len(payloads) if n_results is None else n_results
    rng = np.random.default_rng(seed)
    results, out_t, in_t, samples = [], [], [], []
    k, t = 0, 0
    while len(results) < n_results:
        # decide this cycle's inputs at the falling edge, sample handshakes just before the rising edge
        offer = k < len(payloads) and rng.random() < in_prob
        dut.i__valid.value = int(offer)
        if offer:
            dut.i__payload.value = payloads[k]
        dut.o__ready.value = int(rng.random() < out_prob)
        await RisingEdge(dut.clk)
        if offer and int(dut.i__ready.value):
            in_t.append(t)
            k += 1
        if int(dut.o__valid.value) and int(dut.o__ready.value):
            results.append(read(dut))
            out_t.append(t)
            if sample is not None:
                samples.append(sample(dut))
        await FallingEdge(dut.clk)
        t += 1
        assert t < max_cycles, f"timeout: {len(results)} of {n_results} results after {t} cycles"
    dut.i__valid.value = 0
    dut.o__ready.value = 0
    assert k == len(payloads), f"{len(payloads) - k} inputs left unaccepted after the last result"
    return results, out_t, in_t, samples


def check_results(got, want):
    assert len(got) == len(want), f"{len(got)} results for {len(want)} groups"
    for g, (a, b) in enumerate(zip(got, want)):
        assert a == b, f"group {g}: PE gave {a}, golden {b}"


@cocotb.test()
async def back_to_back(dut):
    p, payloads, want, cycles = load()
    await start(dut)
    got, out_t, in_t, _ = await run_stream(dut, payloads)
    check_results(got, want)
    assert out_t[0] - in_t[0] == cycles[0] + 1, (
        f"first result after {out_t[0] - in_t[0]} cycles, model {cycles[0]} steps + 1")
    for g in range(1, len(want)):
        assert out_t[g] - out_t[g - 1] == cycles[g], (
            f"group {g}: took {out_t[g] - out_t[g - 1]} cycles, cycle model {cycles[g]}")
    assert int(dut.cycles.value) == sum(cycles), f"cycle counter {int(dut.cycles.value)}, model {sum(cycles)}"


@cocotb.test()
async def random_backpressure(dut):
    p, payloads, want, cycles = load()
    await start(dut)
    got, _, _, _ = await run_stream(dut, payloads, in_prob=0.7, out_prob=0.4, seed=p.get("seed", 1))
    check_results(got, want)
    await FallingEdge(dut.clk)
    assert int(dut.cycles.value) == sum(cycles), f"cycle counter {int(dut.cycles.value)}, model {sum(cycles)}"


async def abort_then_run(dut, use_reset):
    p, payloads, want, cycles = load()
    await start(dut)
    # start the group with the most steps, hold its result back, and abort it half way
    g = int(np.argmax(cycles))
    dut.o__ready.value = 0
    dut.i__valid.value = 1
    dut.i__payload.value = payloads[g]
    await RisingEdge(dut.clk)
    assert int(dut.i__ready.value), "an idle PE must accept a group"
    await FallingEdge(dut.clk)
    dut.i__valid.value = 0
    for _ in range(max(cycles[g] // 2, 1)):
        await FallingEdge(dut.clk)
    if use_reset:
        dut.rst.value = 1
    else:
        dut.clear.value = 1
    await FallingEdge(dut.clk)
    dut.rst.value = 0
    dut.clear.value = 0
    assert int(dut.o__valid.value) == 0, "an aborted group must not leave a result"
    assert int(dut.cycles.value) == 0, "clear/reset must zero the cycle counter"
    got, _, _, _ = await run_stream(dut, payloads, in_prob=0.9, out_prob=0.8, seed=3)
    check_results(got, want)
    for _ in range(5):                       # and nothing else comes out afterwards
        dut.o__ready.value = 1
        await RisingEdge(dut.clk)
        assert int(dut.o__valid.value) == 0, "an extra result appeared after the last group"
        await FallingEdge(dut.clk)


@cocotb.test()
async def clear_mid_group(dut):
    await abort_then_run(dut, use_reset=False)


@cocotb.test()
async def reset_mid_group(dut):
    await abort_then_run(dut, use_reset=True)
