"""Barrel shifter: shift a word by a run-time amount 0..S in ``ceil(log2(S+1))`` mux stages.

Stage ``i`` shifts by ``2**i`` when bit ``i`` of the amount is set, so any amount is the sum of the stages
it enables. Used by the EBSP PE (placing the LUT entry, docs/ebsp.md), the BitVert PE (``<< col_idx``,
docs/bbs.md) and the Bitlet fp32 aligner (truncating right shift, docs/bitlet.md).

A left shifter widens its output to ``width + max_shift`` bits, so it never loses a bit; arithmetic left
sign-extends into that widening (the signed value times ``2**amount``). A right shifter keeps ``width``
bits: logical fills with zeros, arithmetic with the sign (floor division).

Golden function: :func:`golden.primitives.barrel_shift`. Combinational: latency 0.
"""

from amaranth.hdl import Cat, Const, Module, Mux, Signal
from hw.base import Component
from amaranth.lib.wiring import In, Out

from golden.check import check_bool, check_choice, check_int
from golden.primitives import shifter_widths

__all__ = ["BarrelShifter"]


class BarrelShifter(Component):
    """Barrel shifter.

    Parameters
    ----------
    width : int
        Data width, 1..48.
    max_shift : int
        Largest amount the configuration needs (the amount port has ``unsigned_width(max_shift)`` bits).
    direction : "left" or "right"
    arithmetic : bool
        Treat ``data`` as two's complement (sign-extend) instead of unsigned.

    Attributes
    ----------
    data : In(width)
    amount : In(amount_width)
    result : Out(out_width)
        ``width + max_shift`` bits for left shifts, ``width`` for right shifts.
    """

    latency = 0

    def __init__(self, width: int, max_shift: int, direction: str = "left", arithmetic: bool = False):
        self.width = check_int("width", width, lo=1, hi=48)
        self.max_shift = check_int("max_shift", max_shift, lo=1, hi=48)
        self.direction = check_choice("direction", direction, ("left", "right"))
        self.arithmetic = check_bool("arithmetic", arithmetic)
        self.amount_width, self.out_width = shifter_widths(self.width, self.max_shift, self.direction)
        super().__init__({
            "data": In(self.width),
            "amount": In(self.amount_width),
            "result": Out(self.out_width),
        })

    @property
    def stages(self) -> int:
        """Mux stages (one per amount bit)."""
        return self.amount_width

    def elaborate(self, platform):
        m = Module()
        w = self.out_width
        cur = Signal(w, name="stage0")
        if self.arithmetic and w > self.width:
            m.d.comb += cur.eq(Cat(self.data, self.data[-1].replicate(w - self.width)))
        else:
            m.d.comb += cur.eq(self.data)
        for i in range(self.amount_width):
            k = 1 << i
            if self.direction == "left":
                shifted = Const(0, w) if k >= w else Cat(Const(0, k), cur[:w - k])
            else:
                fill = cur[-1] if self.arithmetic else Const(0, 1)
                shifted = fill.replicate(w) if k >= w else Cat(cur[k:], fill.replicate(k))
            nxt = Signal(w, name=f"stage{i + 1}")
            m.d.comb += nxt.eq(Mux(self.amount[i], shifted, cur))
            cur = nxt
        m.d.comb += self.result.eq(cur)
        return m
