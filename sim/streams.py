"""cocotb driver, monitor and checker for the PE contract (hw/pe.py, docs/contract.md), shared by every PE bench.

The split follows cocotb's matrix_multiplier example: a driver only drives, a monitor only watches, and
the checker compares what the monitor saw with the golden list, so the stream rules are checked on both
sides whatever the scenario does.

* :class:`StreamDriver` offers the payloads of ``i`` one after another. An offer is held (``valid``
  high, payload unchanged) until it is taken; random idle gaps are only ever inserted *between*
  transfers. It timestamps every transfer.
* :class:`PEMonitor` drives ``o.ready`` (always, never, or at random) and, at every rising edge, checks
  the contract: once ``o.valid`` is high and not taken, ``o.valid`` stays high and ``o.payload`` does not
  change until the transfer (unless ``clear``/``rst`` drops it); ``i.ready`` is low while ``clear`` or
  ``rst`` is high. It records every output transfer (cycle, word, optional sample of other signals).
* :func:`check_in_order` is the checker: the values, unpacked with the PE's own :meth:`hw.pe.PE.unpack`,
  against the golden list, in order, none missing, none extra.

Cycle stamps: ``t`` = simulation time / clock period, read at the rising edge where the transfer happens
(inputs are driven at falling edges, handshakes sampled at rising edges).
"""

from __future__ import annotations

import cocotb
import numpy as np
from cocotb.clock import Clock
from cocotb.triggers import FallingEdge, RisingEdge
from cocotb.utils import get_sim_time

__all__ = ["PERIOD_NS", "now", "start", "StreamDriver", "PEMonitor", "run_stream", "check_in_order"]

PERIOD_NS = 10


def now() -> int:
    """The current clock cycle (simulation time / period)."""
    return int(get_sim_time("ns")) // PERIOD_NS


class StreamDriver:
    """Offers payloads on the ``<prefix>`` stream of ``dut``; an offer is never withdrawn before it is taken."""

    def __init__(self, dut, prefix: str = "i"):
        self.clk = dut.clk
        self.valid = getattr(dut, f"{prefix}__valid")
        self.ready = getattr(dut, f"{prefix}__ready")
        self.payload = getattr(dut, f"{prefix}__payload")
        self.accepted: list[int] = []

    async def send(self, payloads, *, in_prob: float = 1.0, rng=None):
        """Offer every payload in order (call at a falling edge; returns at one). Before each offer, idle
        cycles follow each other with probability ``1 - in_prob``."""
        rng = rng or np.random.default_rng(0)
        for word in payloads:
            while rng.random() >= in_prob:                 # a gap between two transfers
                self.valid.value = 0
                await FallingEdge(self.clk)
            self.valid.value = 1
            self.payload.value = int(word)
            while True:                                     # held until taken
                await RisingEdge(self.clk)
                taken = int(self.ready.value)
                if taken:
                    self.accepted.append(now())
                await FallingEdge(self.clk)
                if taken:
                    break
        self.valid.value = 0


class PEMonitor:
    """Drives ``o.ready``, checks the PE contract at every rising edge, records every output transfer.

    ``out_prob`` (settable at any time): probability that ``o.ready`` is high in a cycle (1 = always,
    0 = never). ``sample(dut)``, if given, is read at each output transfer.
    """

    def __init__(self, dut, *, out_prob: float = 1.0, seed: int = 0, sample=None):
        self.dut = dut
        self.out_prob = out_prob
        self.rng = np.random.default_rng(seed)
        self.sample = sample
        self.words: list[int] = []
        self.stamps: list[int] = []
        self.samples: list = []
        self._task = cocotb.start_soon(self._run())

    def clear_records(self):
        self.words, self.stamps, self.samples = [], [], []

    async def _run(self):
        d = self.dut
        stalled, held = False, None
        while True:
            d.o__ready.value = int(self.out_prob >= 1 or self.rng.random() < self.out_prob)
            await RisingEdge(d.clk)
            flush = int(d.rst.value) or int(d.clear.value)
            valid, ready = int(d.o__valid.value), int(d.o__ready.value)
            if flush:
                assert not int(d.i__ready.value), "i.ready must be low while clear or rst is high"
            word = d.o__payload.value.to_unsigned() if valid else None
            if stalled and not flush:
                assert valid, f"o.valid was withdrawn at cycle {now()} before its result was taken"
                assert word == held, (f"o.payload changed under back-pressure at cycle {now()}: "
                                      f"{held:#x} -> {word:#x}")
            if valid and ready:
                self.words.append(word)
                self.stamps.append(now())
                if self.sample is not None:
                    self.samples.append(self.sample(d))
            stalled, held = bool(valid and not ready and not flush), word
            await FallingEdge(d.clk)


async def start(dut, *, out_prob: float = 1.0, seed: int = 0, sample=None) -> PEMonitor:
    """Clock, two cycles of reset, and the monitor (which starts checking in the second cycle of reset).
    Returns at the falling edge after reset."""
    cocotb.start_soon(Clock(dut.clk, PERIOD_NS, unit="ns").start())
    dut.rst.value = 1
    dut.clear.value = 0
    dut.i__valid.value = 0
    dut.o__ready.value = 0
    await FallingEdge(dut.clk)              # the inputs are defined from here on
    monitor = PEMonitor(dut, out_prob=0.0, seed=seed, sample=sample)
    await FallingEdge(dut.clk)
    dut.rst.value = 0
    monitor.out_prob = out_prob
    return monitor


async def run_stream(dut, monitor: PEMonitor, payloads, *, n_results=None, in_prob=1.0, out_prob=1.0,
                     seed=0, max_cycles=10**6):
    """Send ``payloads`` (a :class:`StreamDriver`) while ``monitor`` takes results with ``out_prob``, until
    ``n_results`` (default: one per payload) new results are out. Returns ``(words, output stamps,
    accept stamps, samples)`` of this run; afterwards ``o.ready`` is held low."""
    n_results = len(payloads) if n_results is None else n_results
    driver = StreamDriver(dut)
    monitor.clear_records()
    monitor.out_prob = out_prob
    send = cocotb.start_soon(driver.send(payloads, in_prob=in_prob, rng=np.random.default_rng(seed)))
    t0 = now()
    while len(monitor.words) < n_results:
        await FallingEdge(dut.clk)
        assert now() - t0 < max_cycles, (f"timeout: {len(monitor.words)} of {n_results} results after "
                                         f"{now() - t0} cycles")
    monitor.out_prob = 0.0
    assert send.done(), f"{len(payloads) - len(driver.accepted)} inputs left unaccepted after the last result"
    return list(monitor.words), list(monitor.stamps), list(driver.accepted), list(monitor.samples)


def check_in_order(got, want, *, what: str = "group", fmt=str):
    """The checker: ``got`` equals ``want`` element by element, same length."""
    assert len(got) == len(want), f"{len(got)} results for {len(want)} {what}s"
    for g, (a, b) in enumerate(zip(got, want)):
        assert a == b, f"{what} {g}: PE gave {fmt(a)}, golden {fmt(b)}"
