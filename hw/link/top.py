"""The platform-free top of a board: UART pins, the host link and a layer engine (docs/link.md).

:class:`SerialCore` is what a board wrapper (:mod:`fpga.board`) places between its ``uart`` resource and
its clock, and what the simulated board (:mod:`sim.board`) runs behind a TCP socket: the same design in
both, so what the host driver sees in simulation is what it sees on the board.
"""

from __future__ import annotations

from amaranth.hdl import Module
from amaranth.lib.wiring import In, Out

from golden.check import check_int
from hw.array.layer import LayerEngine
from hw.base import Component
from hw.link.core import LinkCore
from hw.link.uart import UARTRx, UARTTx

__all__ = ["SerialCore"]


class SerialCore(Component):
    """:class:`~hw.link.uart.UARTRx` and :class:`~hw.link.uart.UARTTx` of ``divisor`` clock cycles a bit
    around a :class:`~hw.link.core.LinkCore` of ``engine``.

    ``arch``: the architecture's index in :data:`hw.array.archs.ARCHS`; ``clk_hz``: the clock, reported
    by ``IDENT``; ``timeout_bytes``: the longest gap inside a frame, in byte times (default 200: a host
    that stops for more than that mid-frame has its frame dropped).

    Ports: ``rx`` ``In(1)`` (the board's UART receive pin, idle high), ``tx`` ``Out(1)`` (transmit pin).
    """

    def __init__(self, engine: LayerEngine, *, arch: int, clk_hz: int, divisor: int, timeout_bytes: int = 200):
        timeout_bytes = check_int("timeout_bytes", timeout_bytes, lo=2, hi=1 << 16)
        self.core = LinkCore(engine, arch=arch, clk_hz=clk_hz, divisor=divisor,
                             timeout=timeout_bytes * 10 * divisor)
        self.divisor = divisor
        super().__init__({"rx": In(1, init=1), "tx": Out(1, init=1)})

    def elaborate(self, platform):
        m = Module()
        m.submodules.core = core = self.core
        m.submodules.uart_rx = urx = UARTRx(self.divisor)
        m.submodules.uart_tx = utx = UARTTx(self.divisor)
        m.d.comb += [
            urx.rx.eq(self.rx), self.tx.eq(utx.tx),
            core.rx.payload.eq(urx.o.payload), core.rx.valid.eq(urx.o.valid), urx.o.ready.eq(core.rx.ready),
            core.rx_overflow.eq(urx.overflow), core.rx_frame_error.eq(urx.frame_error),
            utx.i.payload.eq(core.tx.payload), utx.i.valid.eq(core.tx.valid), core.tx.ready.eq(utx.i.ready),
        ]
        return m
