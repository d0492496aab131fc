"""cocotb bench for the Bitlet MAC datapath (``hw/bitlet/mac.py``) on its own: every cycle exact.

The pytest side (tests/hw/bitlet/test_mac.py) writes the vectors (``BITSPARSE_PARAMS["vectors"]``), per
scenario the inputs of every cycle, what the MAC must show in it, ``[acc, acc_next, finishing]`` (``None``:
not defined), from :func:`hw.bitlet.mac.mac_step_value` and ``BitletMAC.latency``, and the golden result
of every pass that runs to its end. Both scenarios drive the two extreme passes (every lane selecting the
extreme activation, ``neg`` all set / all clear: the accumulator's full width) and random passes (random
activations, one-hot or bubble selects, signs), with random runs of cycles without a step between the
steps, half of them with ``hold``, and random data inputs and flags whenever no step enters:

* ``random_passes``: ``finishing`` and ``acc`` in every cycle and ``acc_next`` whenever a step is in the
  accumulate stage equal the model; the results taken when ``finishing`` and not ``hold`` are the
  passes' golden sums.
* ``clear_mid_pass``: the same with every fourth pass cut half way by ``clear`` (``hold`` random with it)
  right after its last step that entered: the cut passes give no result, the next pass and all after
  it are exact.
"""

import json

import cocotb
from cocotb.clock import Clock
from cocotb.triggers import FallingEdge, Timer

from sim.runner import test_params


async def start(dut):
    cocotb.start_soon(Clock(dut.clk, 10, unit="ns").start())
    dut.rst.value = 1
    for port in ("step", "hold", "clear"):
        getattr(dut, port).value = 0
    await FallingEdge(dut.clk)
    await FallingEdge(dut.clk)
    dut.rst.value = 0


async def run(dut, scenario):
    with open(test_params()["vectors"]) as f:
        v = json.load(f)[scenario]
    await start(dut)
    results = []
    for t, (c, want) in enumerate(zip(v["cycles"], v["want"])):
        for i, a in enumerate(c["acts"]):
            getattr(dut, f"acts__{i}").value = a
        for g, (s, neg) in enumerate(zip(c["sel"], c["neg"])):
            getattr(dut, f"sel__{g}").value = s
            getattr(dut, f"neg__{g}").value = neg
        for port in ("step", "first", "last", "hold", "clear"):
            getattr(dut, port).value = c[port]
        await Timer(1, unit="ns")
        got = [dut.acc.value.to_signed(), dut.acc_next.value.to_signed(), int(dut.finishing.value)]
        for port, g, w in zip(("acc", "acc_next", "finishing"), got, want):
            assert w is None or g == w, f"cycle {t}: {port} {g}, golden {w} (inputs {c})"
        if got[2] and not c["hold"]:
            results.append(got[1])
        await FallingEdge(dut.clk)
    assert results == v["results"], f"pass results {results}, golden {v['results']}"


@cocotb.test()
async def random_passes(dut):
    await run(dut, "random_passes")


@cocotb.test()
async def clear_mid_pass(dut):
    await run(dut, "clear_mid_pass")
