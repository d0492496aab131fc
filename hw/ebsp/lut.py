"""EBSP LUT: the multiples ``{0, x, 2x, ..., (2**L - 1) x}`` of an activation, built without a multiplier.

EBSP (docs/ebsp.md) replaces each weight-activation multiplier by a read of this small table at the
weight's L-bit digit, followed by a barrel shift. The table is built from the activation with shifts
(free wiring) and adders: even entries are the half-index entry shifted left by one, odd entries are the
previous even entry plus ``x`` (3x = 2x + x, 5x = 4x + x, 7x = 6x + x), i.e. ``2**(L-1) - 1`` adders.
The table depends only on the activation, so it is built once and read by ``read_ports`` lanes (the LUT
sharing of docs/ebsp.md).

Golden function: :func:`golden.primitives.ebsp_lut_table`. Combinational: latency 0.
"""

from amaranth.hdl import Array, Module, Signal, signed
from amaranth.lib.wiring import In, Out

from golden.check import check_int
from golden.primitives import ebsp_lut_entry_width
from hw.base import Component

__all__ = ["EBSPLut"]


class EBSPLut(Component):
    """Activation-multiple table with ``read_ports`` digit-indexed read ports.

    Parameters
    ----------
    act_width : int
        Signed activation width, 2..32.
    window : int
        Pattern length L, 1..``MAX_WINDOW`` = 8 (the digit width; 2**L entries).
    read_ports : int
        Number of lanes sharing this table, 1..64.

    Attributes
    ----------
    x : In(signed(act_width))
    digit : In(window).array(read_ports)
    value : Out(signed(entry_width)).array(read_ports)
        ``digit[i] * x``.
    """

    latency = 0
    MAX_WINDOW = 8

    def __init__(self, act_width: int = 8, window: int = 3, read_ports: int = 1):
        self.act_width = check_int("act_width", act_width, lo=2, hi=32)
        self.window = check_int("window", window, lo=1, hi=self.MAX_WINDOW)
        self.read_ports = check_int("read_ports", read_ports, lo=1, hi=64)
        self.entry_width = ebsp_lut_entry_width(self.act_width, self.window)
        super().__init__({
            "x": In(signed(self.act_width)),
            "digit": In(self.window).array(self.read_ports),
            "value": Out(signed(self.entry_width)).array(self.read_ports),
        })

    @property
    def adders(self) -> int:
        """Adders used to build the table."""
        return (1 << (self.window - 1)) - 1

    def elaborate(self, platform):
        m = Module()
        entries = []
        for d in range(1 << self.window):
            e = Signal(signed(self.entry_width), name=f"x_times_{d}")
            if d == 0:
                m.d.comb += e.eq(0)
            elif d == 1:
                m.d.comb += e.eq(self.x)
            elif d % 2 == 0:
                m.d.comb += e.eq(entries[d // 2] << 1)
            else:
                m.d.comb += e.eq(entries[d - 1] + self.x)
            entries.append(e)
        table = Array(entries)
        for i in range(self.read_ports):
            m.d.comb += self.value[i].eq(table[self.digit[i]])
        return m
