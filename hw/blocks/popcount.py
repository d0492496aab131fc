"""Popcount: number of ones in a ``width``-bit word, as a balanced adder tree.

Each level adds pairs of partial counts whose width is exactly what their number of leaves needs
(``unsigned_width(leaves)``), so the tree has ``ceil(log2 W)`` levels and no wasted bits. Used by the BBS
column decoder (``invert = popcount > Gs/2``, docs/bbs.md) and anywhere an essential-bit count is
needed (Pragmatic, Bit-balance encoders).

Golden function: :func:`golden.primitives.popcount_bits`. Combinational: latency 0.
"""

from amaranth.hdl import Module, Signal
from hw.base import Component
from amaranth.lib.wiring import In, Out

from golden.bits import unsigned_width
from golden.check import check_int
from golden.primitives import popcount_width

__all__ = ["Popcount"]


class Popcount(Component):
    """Population count.

    Parameters
    ----------
    width : int
        Input width, 1..64.

    Attributes
    ----------
    data : In(width)
    count : Out(popcount_width(width))
    """

    latency = 0

    def __init__(self, width: int):
        self.width = check_int("width", width, lo=1, hi=64)
        super().__init__({"data": In(self.width), "count": Out(popcount_width(self.width))})

    def elaborate(self, platform):
        m = Module()
        nodes = [(self.data[i], 1) for i in range(self.width)]      # (value, leaves)
        level = 0
        while len(nodes) > 1:
            level += 1
            merged = []
            for k in range(0, len(nodes) - 1, 2):
                (a, na), (b, nb) = nodes[k], nodes[k + 1]
                s = Signal(unsigned_width(na + nb), name=f"l{level}_n{k // 2}")
                m.d.comb += s.eq(a + b)
                merged.append((s, na + nb))
            if len(nodes) % 2:
                merged.append(nodes[-1])
            nodes = merged
        m.d.comb += self.count.eq(nodes[0][0])
        return m
