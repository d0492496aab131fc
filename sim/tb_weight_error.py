"""cocotb bench for the sticky ``weight_error`` output of the EBSP and Bit-balance PEs.

Reads the vectors of ``sim/tb_pe.py`` (:func:`sim.pe_vectors.write_vectors`) plus ``errors`` (per group:
does it hold a weight outside the PE's format, computed by the pytest side with the golden model). The
driver, monitor and checker are :mod:`sim.streams` (the monitor samples ``weight_error`` at every output
transfer). Checks, with the results exact and in order:

* the flag is 0 after reset;
* at every output transfer the flag equals "some group up to and including this one had an error"
  (it rises together with the offending group's ``o.valid``), with and without back-pressure;
* ``clear`` and ``rst`` drop it to 0, and it is sticky in between.
"""

import json

import cocotb
import numpy as np
from cocotb.triggers import FallingEdge

from hw.pe import PE
from sim.runner import test_params
from sim.streams import check_in_order, run_stream, start


def load():
    p = test_params()
    with open(p["vectors"]) as f:
        v = json.load(f)
    return PE.from_spec(v["pe"]), v["payloads"], v["results"], v["errors"]


def check_flags(flags, errors):
    want = np.logical_or.accumulate(np.asarray(errors, dtype=bool)).astype(int).tolist()
    check_in_order(flags, want, fmt=lambda f: f"weight_error {f}")


async def pulse(dut, name):
    getattr(dut, name).value = 1
    await FallingEdge(dut.clk)
    getattr(dut, name).value = 0
    await FallingEdge(dut.clk)
    assert int(dut.weight_error.value) == 0, f"{name} must clear weight_error"


@cocotb.test()
async def weight_error_flag(dut):
    pe, payloads, want, errors = load()
    assert any(errors), "the vectors must contain at least one bad group"
    monitor = await start(dut, sample=lambda d: int(d.weight_error.value))
    assert int(dut.weight_error.value) == 0, "weight_error must be 0 after reset"
    for run, (in_prob, out_prob) in enumerate([(1.0, 1.0), (0.7, 0.4), (0.9, 0.8)]):
        words, _, _, flags = await run_stream(dut, monitor, payloads, in_prob=in_prob, out_prob=out_prob, seed=run)
        check_in_order([pe.unpack(w) for w in words], want)
        check_flags(flags, errors)
        for _ in range(3):                    # sticky while idle
            await FallingEdge(dut.clk)
        assert int(dut.weight_error.value) == 1, "weight_error must stay set until clear/reset"
        await pulse(dut, "clear" if run != 1 else "rst")
