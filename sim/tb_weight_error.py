"""cocotb bench for the sticky ``weight_error`` output of the EBSP and Bit-balance PEs.

Reads the same JSON vectors as ``sim/tb_pe.py`` plus ``errors`` (per group: does it hold a weight outside
the PE's format, computed by the pytest side with the golden model). Checks, with the results exact:

* the flag is 0 after reset;
* at every output handshake the flag equals "some group up to and including this one had an error"
  (it rises together with the offending group's ``o.valid``), with and without back-pressure;
* ``clear`` and ``rst`` drop it to 0, and it is sticky in between.
"""

import json

import cocotb
import numpy as np
from cocotb.triggers import FallingEdge

from sim.runner import test_params
from sim.tb_pe import check_results, run_stream, start


def load():
    p = test_params()
    with open(p["vectors"]) as f:
        v = json.load(f)
    return v["payloads"], v["results"], v["errors"]


async def run_with_flag(dut, payloads, *, in_prob, out_prob, seed):
    """``sim.tb_pe.run_stream``, also sampling ``weight_error`` at every output handshake."""
    results, _, _, flags = await run_stream(dut, payloads, in_prob=in_prob, out_prob=out_prob, seed=seed,
                                            max_cycles=10**6, sample=lambda d: int(d.weight_error.value))
    return results, flags


def check_flags(flags, errors):
    want = np.logical_or.accumulate(np.asarray(errors, dtype=bool)).astype(int).tolist()
    for g, (a, b) in enumerate(zip(flags, want)):
        assert a == b, f"group {g}: weight_error {a}, expected {b} (errors {errors[:g + 1]})"


async def pulse(dut, name):
    getattr(dut, name).value = 1
    await FallingEdge(dut.clk)
    getattr(dut, name).value = 0
    await FallingEdge(dut.clk)
    assert int(dut.weight_error.value) == 0, f"{name} must clear weight_error"


@cocotb.test()
async def weight_error_flag(dut):
    payloads, want, errors = load()
    assert any(errors), "the vectors must contain at least one bad group"
    await start(dut)
    assert int(dut.weight_error.value) == 0, "weight_error must be 0 after reset"
    for run, (in_prob, out_prob) in enumerate([(1.0, 1.0), (0.7, 0.4), (0.9, 0.8)]):
        got, flags = await run_with_flag(dut, payloads, in_prob=in_prob, out_prob=out_prob, seed=run)
        check_results(got, want)
        check_flags(flags, errors)
        for _ in range(3):                    # sticky while idle
            await FallingEdge(dut.clk)
        assert int(dut.weight_error.value) == 1, "weight_error must stay set until clear/reset"
        await pulse(dut, "clear" if run != 1 else "rst")
