"""Helpers shared by the tests of the two PEs with a sticky ``weight_error`` output (tests/hw/ebsp and
tests/hw/bitbalance): weights to try, an Amaranth-simulator stream that also reads the flag and the cycle
counter, and the cocotb runs on the generated Verilog (sim/tb_pe.py, sim/tb_weight_error.py)."""

from typing import NamedTuple

import numpy as np
from amaranth.hdl import Cat

from sim.amaranth_sim import run_pe_stream
from sim.pe_vectors import write_vectors
from sim.runner import run_cocotb

__all__ = ["values", "FlaggedStream", "stream_flagged", "cocotb_flagged"]


def values(top: int) -> np.ndarray:
    """Every weight in ``[-top, top]`` for small widths; a seeded sample of 3000 (with both ends) beyond."""
    if top < 1500:
        return np.arange(-top, top + 1)
    return np.concatenate([[-top, 0, top], np.random.default_rng(top).integers(-top, top + 1, 3000)])


class FlaggedStream(NamedTuple):
    """Per group, in order: the result (a list for an array result), its steps (from the cycle counter),
    and ``weight_error`` when its result was taken."""

    results: list
    steps: list
    errors: list


def stream_flagged(pe, payloads) -> FlaggedStream:
    """Stream ``payloads`` through ``pe`` back to back (:func:`sim.amaranth_sim.run_pe_stream`), reading
    ``weight_error`` and the cycle counter at every output transfer, and check the stream timing: each
    group is accepted when the one before it ends, and its result is valid ``steps + pe.latency`` cycles
    after its acceptance."""
    run = run_pe_stream(pe, payloads, sample=Cat(pe.weight_error, pe.cycles))
    counts = [s >> 1 for s in run.samples]             # all steps so far: the next group has not stepped yet
    steps = np.diff([0] + counts).tolist()
    assert np.diff(run.accepted).tolist() == steps[:-1]
    assert [o - i for o, i in zip(run.produced, run.accepted)] == [s + pe.latency for s in steps]
    results = [r if isinstance(r, int) else [int(v) for v in r] for r in run.results]
    return FlaggedStream(results, steps, [s & 1 for s in run.samples])


def cocotb_flagged(pe, toplevel, build_dir, words, results, cycles, errors, *, seed,
                   benches=("sim.tb_pe",)) -> int:
    """Write the vectors (with ``errors``, per group: does it hold a weight outside the format) and run
    each bench on ``pe``'s Verilog; returns the number of cocotb tests that passed."""
    vec = write_vectors(build_dir / "vectors.json", pe, words, results, cycles, errors=[bool(e) for e in errors])
    return sum(run_cocotb(pe, toplevel=toplevel, tb_module=tb, build_dir=build_dir / tb.split(".")[-1],
                          params={"vectors": str(vec), "seed": seed}) for tb in benches)
