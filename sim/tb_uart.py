"""cocotb bench of the host link's UART (hw/link/uart.py, docs/link.md "UART") on its generated Verilog,
and the reference line model the Amaranth tests share (tests/hw/link/test_uart.py).

The design under test is a loopback wrapper (``UARTLoop`` of the tests): a :class:`~hw.link.uart.UARTTx`
whose ``tx`` pin is a port, and a :class:`~hw.link.uart.UARTRx` that listens to that ``tx`` (``loop``
high) or to the external ``rx`` pin (``loop`` low). ``BITSPARSE_PARAMS``: ``divisor``, ``seed``, ``n``
(bytes per scenario). Three tests, one build:

* ``tx_bit_exact``: random bytes offered with random idle gaps (half of them none); the ``tx`` pin cycle
  by cycle equals :func:`tx_line` of the transfers, ``busy`` is high exactly over each frame, and bytes
  offered back to back leave exactly ``10 * divisor`` cycles apart.
* ``rx_reference_line``: :func:`sender_line` drives ``rx`` with random bytes, random gaps and bit times
  of ``divisor``, 2 % longer and 2 % shorter; ``o.ready`` random. Every byte is received, in order; at
  the exact rate each appears in the cycle :func:`rx_cycle` says; no overflow, no framing error.
* ``loopback_full_rate``: bytes offered back to back go out on ``tx`` and come back on ``o`` in order,
  each exactly ``1 + rx_cycle`` cycles after it was taken.

Cycle ``c`` of the bench is the ``c``-th falling edge after reset: outputs are read there (the values of
that cycle), then the inputs of that cycle are written; a stream transfer is ``valid`` and ``ready``
high in that cycle, the same convention as the Amaranth tests.
"""

from __future__ import annotations

import math

import cocotb
import numpy as np
from cocotb.clock import Clock
from cocotb.triggers import FallingEdge

from sim.runner import test_params
from sim.streams import PERIOD_NS

__all__ = ["frame_bits", "tx_line", "sender_line", "rx_cycle"]


def frame_bits(byte: int, stop: int = 1) -> list[int]:
    """The ten bits of one 8N1 frame in line order: start (0), data LSB first, stop (``stop``)."""
    return [0] + [(byte >> k) & 1 for k in range(8)] + [stop]


def tx_line(transfers, divisor: int, n_cycles: int) -> list[int]:
    """The ``tx`` pin per cycle, ``n_cycles`` long, of a transmitter that took byte ``b`` in cycle ``c``
    for every ``(c, b)`` of ``transfers``: idle high, the frame of ``b`` in cycles ``c + 1 .. c + 10 *
    divisor``, each bit ``divisor`` cycles."""
    line = [1] * n_cycles
    for c, b in transfers:
        for k, bit in enumerate(frame_bits(b)):
            for j in range(c + 1 + k * divisor, min(c + 1 + (k + 1) * divisor, n_cycles)):
                line[j] = bit
    return line


def _round(x: float) -> int:
    return math.floor(x + 0.5)


def sender_line(data, bit_time: float, gaps, *, tail: float = 2.0) -> tuple[list[int], list[int]]:
    """A sender's line per cycle, and the cycle each byte's start bit begins.

    The sender's clock is real-valued: byte ``i`` starts ``gaps[i]`` bit times (real, >= 0) after the
    previous stop bit ends (the first after the line has been idle that long), and its bit ``k`` covers
    cycles ``round(t + k * bit_time) .. round(t + (k + 1) * bit_time) - 1``, ``t`` its start time. The
    line ends ``tail`` bit times of idle after the last stop bit.
    """
    if len(gaps) != len(data):
        raise ValueError(f"gaps must have one entry per byte ({len(data)}), got {len(gaps)}")
    segments, starts, t = [], [], 0.0
    for b, g in zip(data, gaps):
        t += g * bit_time
        starts.append(_round(t))
        for k, bit in enumerate(frame_bits(b)):
            segments.append((_round(t + k * bit_time), _round(t + (k + 1) * bit_time), bit))
        t += 10 * bit_time
    line = [1] * _round(t + tail * bit_time)
    for lo, hi, bit in segments:
        line[lo:hi] = [bit] * (hi - lo)
    return line, starts


def rx_cycle(start: int, divisor: int) -> int:
    """The cycle a receiver puts a byte on ``o`` whose start bit began on its pin in cycle ``start``: the
    stop bit's middle sample ``start + divisor // 2 + 9 * divisor`` plus the latency, 3 (docs of
    hw/link/uart.py)."""
    return start + divisor // 2 + 9 * divisor + 3


async def _reset(dut):
    cocotb.start_soon(Clock(dut.clk, PERIOD_NS, unit="ns").start())
    dut.rst.value = 1
    dut.i__valid.value = 0
    dut.i__payload.value = 0
    dut.o__ready.value = 1
    dut.rx.value = 1
    dut.loop.value = 0
    for _ in range(3):
        await FallingEdge(dut.clk)
    dut.rst.value = 0


class _Offers:
    """Offers ``data`` on ``i``, byte ``j`` after ``gaps[j]`` idle cycles counted from the previous
    transfer; an offer is held until taken. Call :meth:`cycle` once per cycle, after reading ``ready``."""

    def __init__(self, dut, data, gaps):
        self.dut, self.data, self.gaps = dut, list(data), list(gaps)
        self.j, self.wait, self.transfers = 0, self.gaps[0] if gaps else 0, []

    def cycle(self, c: int, ready: int):
        offer = self.j < len(self.data) and self.wait == 0
        self.dut.i__valid.value = int(offer)
        if offer:
            self.dut.i__payload.value = self.data[self.j]
            if ready:
                self.transfers.append((c, self.data[self.j]))
                self.j += 1
                self.wait = self.gaps[self.j] if self.j < len(self.gaps) else 0
        elif self.j < len(self.data):
            self.wait -= 1

    @property
    def done(self):
        return self.j == len(self.data)


@cocotb.test()
async def tx_bit_exact(dut):
    p = test_params()
    d, rng = p["divisor"], np.random.default_rng(p["seed"])
    data = [int(b) for b in rng.integers(0, 256, p["n"])]
    gaps = [0 if rng.random() < 0.5 else int(rng.integers(1, 3 * d)) for _ in data]
    await _reset(dut)
    offers, tx, busy = _Offers(dut, data, gaps), [], []
    c = 0
    while not offers.done or c < offers.transfers[-1][0] + 10 * d + 4:
        await FallingEdge(dut.clk)
        tx.append(int(dut.tx.value))
        busy.append(int(dut.tx_busy.value))
        offers.cycle(c, int(dut.i__ready.value))
        c += 1
        assert c < 20 * d * (len(data) + 2) + sum(gaps), "timeout: the transmitter stopped taking bytes"
    dut.i__valid.value = 0
    assert [b for _, b in offers.transfers] == data
    want = tx_line(offers.transfers, d, len(tx))
    bad = [k for k in range(len(tx)) if tx[k] != want[k]]
    assert not bad, f"tx differs from the reference in {len(bad)} cycles, first {bad[:8]}"
    want_busy = [0] * len(busy)
    for t, _ in offers.transfers:
        want_busy[t + 1:t + 1 + 10 * d] = [1] * (10 * d)
    assert busy == want_busy[:len(busy)], "busy is not high exactly over each frame"
    spacing = [t1 - t0 for (t0, _), (t1, _), g in zip(offers.transfers, offers.transfers[1:], gaps[1:]) if g == 0]
    assert spacing and set(spacing) == {10 * d}, f"back-to-back bytes {sorted(set(spacing))} cycles apart"


async def _receive(dut, line, rng, ready_prob):
    """Drive ``rx`` with ``line``; return the transfers on ``o`` as (cycle, byte), the cycles ``o.valid``
    rose, and the counts of overflow and frame_error pulses."""
    got, rises, overflow, frame_error, was_valid = [], [], 0, 0, 0
    for c, v in enumerate(line):
        await FallingEdge(dut.clk)
        valid = int(dut.o__valid.value)
        if valid and not was_valid:
            rises.append(c)
        overflow += int(dut.overflow.value)
        frame_error += int(dut.frame_error.value)
        dut.rx.value = v
        ready = int(rng.random() < ready_prob)
        dut.o__ready.value = ready
        if valid and ready:
            got.append((c, dut.o__payload.value.to_unsigned()))
        was_valid = valid and not ready
    return got, rises, overflow, frame_error


@cocotb.test()
async def rx_reference_line(dut):
    p = test_params()
    d, rng = p["divisor"], np.random.default_rng(p["seed"] + 1)
    await _reset(dut)
    for rate in (1.0, 1.02, 0.98):
        data = [int(b) for b in rng.integers(0, 256, p["n"])]
        gaps = [0.0 if rng.random() < 0.5 else float(rng.uniform(0, 2)) for _ in data]
        gaps[0] = 1.0
        line, starts = sender_line(data, d / rate, gaps)
        got, rises, overflow, frame_error = await _receive(dut, line + [1] * (3 * d), rng, 0.7)
        assert [b for _, b in got] == data, f"sender at {rate:.2f} x the rate: bytes differ"
        assert (overflow, frame_error) == (0, 0), f"sender at {rate:.2f} x: {overflow} overflows, {frame_error} framing errors"
        if rate == 1.0:
            assert rises == [rx_cycle(s, d) for s in starts], "bytes not on o in the documented cycle"


@cocotb.test()
async def loopback_full_rate(dut):
    p = test_params()
    d, rng = p["divisor"], np.random.default_rng(p["seed"] + 2)
    data = [int(b) for b in rng.integers(0, 256, p["n"])]
    await _reset(dut)
    dut.loop.value = 1
    offers = _Offers(dut, data, [0] * len(data))
    got, overflow, frame_error = [], 0, 0
    for c in range(10 * d * (len(data) + 2)):
        await FallingEdge(dut.clk)
        if int(dut.o__valid.value):
            got.append((c, dut.o__payload.value.to_unsigned()))     # o.ready stays high
        overflow += int(dut.overflow.value)
        frame_error += int(dut.frame_error.value)
        offers.cycle(c, int(dut.i__ready.value))
    assert [t1 - t0 for (t0, _), (t1, _) in zip(offers.transfers, offers.transfers[1:])] == [10 * d] * (len(data) - 1)
    assert [b for _, b in got] == data
    assert [t for t, _ in got] == [rx_cycle(t + 1, d) for t, _ in offers.transfers]
    assert (overflow, frame_error) == (0, 0)
