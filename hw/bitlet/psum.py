"""Bitlet lane sum ``extra + sum_g x_g << g``: significance-aware adder tree (docs/bitlet.md, step 5).

The per-cycle sum of the Bitlet lanes (lane ``g`` has significance ``2**g``; the RTL's 4:2-compressor tree
over ``Asel_g << g``). Each node carries its value, its significance (shift) and its exact value range;
two neighbours ``a`` (shift ``s``) and ``b`` (shift ``s + d``) combine as ``Cat(a[:d], (a >> d) + b)``: the
``d`` low bits pass through and the adder is only as wide as the exact range of ``(a >> d) + b``. A
balanced tree of ``ceil(log2(n + 1))`` levels.

Choice: not :class:`hw.blocks.adder_tree.AdderTree` on the shifted terms, which sizes every adder for
full-width inputs (``width + n - 1`` bits) although ``x_g << g`` has ``g`` zero LSBs.

``extra`` is an optional unsigned ``extra_width``-bit term at significance 1 (the Bitlet PE feeds the
ones'-complement sign corrections ``sum_g c_g << g`` there). The output width is exact for the extreme
input values, :func:`psum_width`. Golden value: :func:`psum_value`. Combinational: latency 0.
"""

from __future__ import annotations

from amaranth.hdl import Cat, Module, Signal, signed
from amaranth.lib.wiring import In, Out

from golden.bits import signed_width
from golden.check import check_int
from hw.base import Component

__all__ = ["ShiftedSum", "psum_value", "psum_width"]


def psum_value(x, extra: int = 0) -> int:
    """``extra + sum_g x[g] << g`` (Python ints)."""
    return int(extra) + sum(int(v) << g for g, v in enumerate(x))


def psum_width(n: int, width: int, extra_width: int = 0) -> int:
    """Exact output width of :class:`ShiftedSum` (range of ``n`` signed ``width``-bit shifted terms plus
    an unsigned ``extra_width``-bit term)."""
    lo, hi = -(1 << (width - 1)), (1 << (width - 1)) - 1
    weight = (1 << n) - 1
    ehi = (1 << extra_width) - 1 if extra_width else 0
    return signed_width(lo * weight, hi * weight + ehi)


class ShiftedSum(Component):
    """``extra + sum_g x[g] << g`` over ``n`` signed ``width``-bit inputs.

    Parameters
    ----------
    n : int
        Terms, 1..64.
    width : int
        Width of each signed term, 1..64.
    extra_width : int
        Width of the unsigned extra term (0: none), 0..64.

    Attributes
    ----------
    x : In(signed(width)).array(n)
    extra : In(extra_width)  (only when ``extra_width > 0``)
    sum : Out(signed(psum_width(n, width, extra_width)))
    """

    latency = 0

    def __init__(self, n: int, width: int, extra_width: int = 0):
        self.n = check_int("n", n, lo=1, hi=64)
        self.width = check_int("width", width, lo=1, hi=64)
        self.extra_width = check_int("extra_width", extra_width, lo=0, hi=64)
        self.out_width = psum_width(self.n, self.width, self.extra_width)
        ports = {"x": In(signed(self.width)).array(self.n), "sum": Out(signed(self.out_width))}
        if self.extra_width:
            ports["extra"] = In(self.extra_width)
        super().__init__(ports)

    def elaborate(self, platform):
        m = Module()
        lo, hi = -(1 << (self.width - 1)), (1 << (self.width - 1)) - 1
        # node: (signal, shift, lo, hi); value = signal << shift, signal in [lo, hi]
        nodes = []
        if self.extra_width:
            e = Signal(signed(self.extra_width + 1), name="extra_s")
            m.d.comb += e.eq(self.extra)
            nodes.append((e, 0, 0, (1 << self.extra_width) - 1))
        nodes += [(self.x[g], g, lo, hi) for g in range(self.n)]
        level = 0
        while len(nodes) > 1:
            level += 1
            merged = []
            for k in range(0, len(nodes) - 1, 2):
                (a, sa, alo, ahi), (b, sb, blo, bhi) = nodes[k], nodes[k + 1]
                if sb < sa:
                    (a, sa, alo, ahi), (b, sb, blo, bhi) = (b, sb, blo, bhi), (a, sa, alo, ahi)
                d = sb - sa
                ulo, uhi = (alo >> d) + blo, (ahi >> d) + bhi          # range of (a >> d) + b
                up = Signal(signed(signed_width(ulo, uhi)), name=f"l{level}_n{k // 2}_hi")
                m.d.comb += up.eq((a >> d) + b)
                if d:
                    s = Signal(signed(d + len(up)), name=f"l{level}_n{k // 2}")
                    m.d.comb += s.eq(Cat(a[:d], up))
                else:
                    s = up
                merged.append((s, sa, alo + (blo << d), ahi + (bhi << d)))
            if len(nodes) % 2:
                merged.append(nodes[-1])
            nodes = merged
        v, shift, _, _ = nodes[0]
        m.d.comb += self.sum.eq(v << shift)
        return m
