"""The UART of the host link: 8N1, least significant bit first, idle high (docs/link.md, "UART").

One bit lasts ``divisor`` clock cycles. :class:`UARTRx` turns the ``rx`` pin into a byte stream,
:class:`UARTTx` a byte stream into the ``tx`` pin; both carry bytes as ``stream.Signature(8)``.
:func:`divisor_for` picks the divisor of a clock and a baud rate.

Timing, in clock cycles, with ``D = divisor`` and ``H = D // 2``:

* receiver: the start bit's falling edge is seen on the pin in cycle ``p`` (the first cycle the pin is
  low); the pin is sampled in cycle ``p + H`` (still low: a start bit; high: a glitch, ignored), data
  bit ``k`` in cycle ``p + H + (k + 1) * D`` and the stop bit in cycle ``s = p + H + 9 * D``, the
  middle of each bit of a sender at exactly ``D`` cycles a bit. The byte is on ``o`` (``o.valid``
  high) from cycle ``s + 3`` (:attr:`UARTRx.latency`: two cycles of synchronizer, one of output
  register); ``overflow`` or ``frame_error`` pulse in that same cycle instead when the byte is lost.
  The receiver hunts for the next start bit from cycle ``s + 1`` on, so a sender whose stop bit is
  cut short (a faster clock) is still received back to back.
* transmitter: a byte taken in cycle ``c`` (``i.valid`` and ``i.ready`` high) is on the pin as the
  start bit in cycles ``c + 1 .. c + D``, data bit ``k`` in ``c + 1 + (k + 1) * D ..`` and the stop bit
  in ``c + 1 + 9 * D .. c + 10 * D``; ``i.ready`` is high again in the stop bit's last cycle, so
  bytes offered back to back leave exactly ``10 * D`` cycles apart (the full line rate).
"""

from __future__ import annotations

import numbers

from amaranth.hdl import Cat, Module, Signal
from amaranth.lib import stream
from amaranth.lib.cdc import FFSynchronizer
from amaranth.lib.wiring import In, Out

from golden.check import check_int
from hw.base import Component

__all__ = ["UARTRx", "UARTTx", "divisor_for", "DIVISOR_MIN", "DIVISOR_MAX", "BAUD_TOLERANCE"]

#: the smallest divisor: the receiver needs a half bit of at least two cycles to tell a glitch
DIVISOR_MIN = 4
#: the largest divisor (a 16-bit bit-time counter; the IDENT record's ``divisor`` field is 2 bytes)
DIVISOR_MAX = 1 << 16
#: the largest relative baud-rate error :func:`divisor_for` accepts
BAUD_TOLERANCE = 0.02


def _check_divisor(divisor) -> int:
    return check_int("divisor", divisor, lo=DIVISOR_MIN, hi=DIVISOR_MAX)


def divisor_for(clk_hz, baud) -> int:
    """The divisor of ``baud`` at a ``clk_hz`` clock: ``round(clk_hz / baud)``.

    Raises ``ValueError`` when the baud rate it achieves, ``clk_hz / divisor``, is more than
    :data:`BAUD_TOLERANCE` (2 %) off ``baud``, or when the divisor lies outside
    ``[DIVISOR_MIN, DIVISOR_MAX]``; ``TypeError``/``ValueError`` unless both are positive finite numbers.
    """
    for name, value in (("clk_hz", clk_hz), ("baud", baud)):
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            raise TypeError(f"{name} must be a positive number, got {value!r} of type {type(value).__name__}")
        if not 0 < value < float("inf"):
            raise ValueError(f"{name} must be a positive number, got {value!r}")
    divisor = round(clk_hz / baud)
    if not DIVISOR_MIN <= divisor <= DIVISOR_MAX:
        raise ValueError(f"clk_hz={clk_hz!r} and baud={baud!r} give divisor {divisor}, outside "
                         f"[{DIVISOR_MIN}, {DIVISOR_MAX}]")
    achieved = clk_hz / divisor
    error = abs(achieved - baud) / baud
    if error > BAUD_TOLERANCE:
        raise ValueError(f"clk_hz={clk_hz!r} and baud={baud!r}: divisor {divisor} achieves baud "
                         f"{achieved:.6g}, an error of {error:.2%}, more than {BAUD_TOLERANCE:.0%}")
    return divisor


class UARTRx(Component):
    """UART receiver, 8N1.

    Parameters
    ----------
    divisor : int
        Clock cycles per bit, ``DIVISOR_MIN`` (4) to ``DIVISOR_MAX`` (65536).

    Attributes
    ----------
    rx : In(1)
        The pin, idle high (initial value 1). Asynchronous: a two-flop synchronizer (initialized high)
        comes first.
    o : Out(stream.Signature(8))
        One transfer per byte received. ``o.valid`` stays high, ``o.payload`` unchanged, until taken.
    overflow : Out(1)
        One-cycle pulse: a byte completed while ``o`` still held an untaken byte. The new byte is
        dropped, the held one stays.
    frame_error : Out(1)
        One-cycle pulse: the stop bit sampled low. The byte is dropped, and the receiver waits for
        the line to return high before it hunts for the next start bit (a break gives one pulse).

    Start bit: a falling edge, confirmed still low half a bit later (else a glitch, ignored); then each
    data bit and the stop bit are sampled at their middle. Latency :attr:`latency` = 3 cycles from the
    stop bit's middle sample on the pin to ``o.valid`` (see the module docstring for every cycle).
    Throughput: one byte per 10 bit times, back to back; senders 2 % fast or slow are received (tested).
    """

    #: cycles from the stop bit's middle on the pin to the byte on ``o``
    latency = 3

    def __init__(self, divisor: int):
        self.divisor = _check_divisor(divisor)
        super().__init__({"rx": In(1, init=1), "o": Out(stream.Signature(8)),
                          "overflow": Out(1), "frame_error": Out(1)})

    def elaborate(self, platform):
        m = Module()
        d = self.divisor
        rx = Signal(init=1)
        m.submodules.sync = FFSynchronizer(self.rx, rx, init=1, stages=2)
        prev = Signal(init=1)
        cnt = Signal(range(d))
        bit = Signal(range(8))
        shreg = Signal(8)
        m.d.sync += [prev.eq(rx), self.overflow.eq(0), self.frame_error.eq(0)]
        with m.If(self.o.ready):
            m.d.sync += self.o.valid.eq(0)

        with m.FSM():
            with m.State("IDLE"):
                with m.If(prev & ~rx):
                    m.d.sync += cnt.eq(d // 2 - 1)
                    m.next = "START"
            with m.State("START"):
                with m.If(cnt != 0):
                    m.d.sync += cnt.eq(cnt - 1)
                with m.Elif(rx):
                    m.next = "IDLE"                  # high again at half a bit: a glitch
                with m.Else():
                    m.d.sync += [cnt.eq(d - 1), bit.eq(0)]
                    m.next = "DATA"
            with m.State("DATA"):
                with m.If(cnt != 0):
                    m.d.sync += cnt.eq(cnt - 1)
                with m.Else():
                    m.d.sync += [shreg.eq(Cat(shreg[1:], rx)), cnt.eq(d - 1), bit.eq(bit + 1)]
                    with m.If(bit == 7):
                        m.next = "STOP"
            with m.State("STOP"):
                with m.If(cnt != 0):
                    m.d.sync += cnt.eq(cnt - 1)
                with m.Elif(~rx):
                    # back to IDLE, which starts only on a falling edge: a line held low (a break)
                    # is one framing error, and the next start bit is hunted once it is high again
                    m.d.sync += self.frame_error.eq(1)
                    m.next = "IDLE"
                with m.Elif(self.o.valid & ~self.o.ready):
                    m.d.sync += self.overflow.eq(1)
                    m.next = "IDLE"
                with m.Else():
                    # a byte taken in this very cycle makes room for the new one
                    m.d.sync += [self.o.payload.eq(shreg), self.o.valid.eq(1)]
                    m.next = "IDLE"
        return m


class UARTTx(Component):
    """UART transmitter, 8N1.

    Parameters
    ----------
    divisor : int
        Clock cycles per bit, ``DIVISOR_MIN`` (4) to ``DIVISOR_MAX`` (65536).

    Attributes
    ----------
    i : In(stream.Signature(8))
        Bytes to send. ``i.ready`` is high only while the transmitter is idle, counting the last cycle
        of a stop bit as idle.
    tx : Out(1, init=1)
        The pin, a register, idle high.
    busy : Out(1)
        High while a byte is on the line, from the first cycle of its start bit to the last of its stop
        bit.

    A byte taken in cycle ``c`` goes out as start bit, 8 data bits (LSB first) and stop bit in cycles
    ``c + 1 .. c + 10 * divisor``, each bit exactly ``divisor`` cycles: latency :attr:`latency` = 1 cycle
    to the start bit. Throughput: one byte per ``10 * divisor`` cycles, the full line rate, while ``i``
    has bytes.
    """

    #: cycles from the transfer on ``i`` to the start bit on ``tx``
    latency = 1

    def __init__(self, divisor: int):
        self.divisor = _check_divisor(divisor)
        super().__init__({"i": In(stream.Signature(8)), "tx": Out(1, init=1), "busy": Out(1)})

    def elaborate(self, platform):
        m = Module()
        d = self.divisor
        cnt = Signal(range(d))
        left = Signal(range(10))       # bits still to send after the one on the pin
        shreg = Signal(9)              # the data bits, then the stop bit
        last = Signal()
        m.d.comb += [last.eq(self.busy & (cnt == 0) & (left == 0)),
                     self.i.ready.eq(~self.busy | last)]
        with m.If(self.i.valid & self.i.ready):
            m.d.sync += [self.tx.eq(0), shreg.eq(Cat(self.i.payload, 1)), cnt.eq(d - 1), left.eq(9),
                         self.busy.eq(1)]
        with m.Elif(last):
            m.d.sync += self.busy.eq(0)
        with m.Elif(self.busy):
            with m.If(cnt != 0):
                m.d.sync += cnt.eq(cnt - 1)
            with m.Else():
                m.d.sync += [self.tx.eq(shreg[0]), shreg.eq(shreg[1:]), cnt.eq(d - 1), left.eq(left - 1)]
        return m
