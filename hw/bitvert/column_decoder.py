"""BBS column decoder: the BitVert scheduler's per-cycle decisions for one Gs-bit weight sub-column.

docs/bbs.md (BitVert scheduler). For a sub-column of ``Gs`` weight bits (bit ``i`` belongs to activation
``A_i``; ``Gs = 8`` in the paper, at most 16 here):

* ``invert = popcount(column) > Gs/2`` (strictly): the PE then sums the activations at the zeros and
  subtracts them from the sub-group sum (Eq. 3), else it sums those at the ones (Eq. 2); either way at
  most ``Gs/2`` bits remain in ``m`` (``~column`` or ``column``).
* ``Gs/2`` lanes; lane ``j`` has a ``(Gs/2+1):1`` window over ``A_j .. A_{j+Gs/2}``, select
  ``sel_j = position - j`` (0 = the window's lowest activation, in this decoder and in the PE's mux).
* A chain of priority encoders (:class:`~hw.blocks.lod.LeadingOneDetector`) from the top lane down to
  lane 0: each takes the highest remaining bit of ``m`` in its window and removes it, so every remaining
  bit is placed exactly once (SymbiYosys proof for Gs = 8 in ``tests/sim/test_formal.py``; exhaustive
  tests for Gs = 4, 8, 16).

Ports: ``column`` in; ``invert``, ``sel[j]``, ``valid[j]`` out. Combinational: latency 0.
Golden function: :func:`golden.primitives.bbs_column_decode`.
"""

from amaranth.hdl import Const, Module, Mux, Signal
from amaranth.lib.wiring import In, Out

from golden.primitives import _check_gs, bbs_sel_width
from hw.base import Component
from hw.blocks.lod import LeadingOneDetector
from hw.blocks.popcount import Popcount

__all__ = ["BBSColumnDecoder", "MAX_SUBGROUP"]

MAX_SUBGROUP = 16      # the largest Gs the decoder (and bbs_column_decode) takes: 8 window encoders


class BBSColumnDecoder(Component):
    """BitVert window scheduler for one sub-column.

    Parameters
    ----------
    subgroup : int
        Gs, even, 2..16 (default 8).

    Attributes
    ----------
    column : In(subgroup)
        Bit i = weight bit of lane input i in this column.
    invert : Out(1)
        ``popcount(column) > subgroup // 2``.
    sel : Out(bbs_sel_width(subgroup)).array(subgroup // 2)
        Lane j's window select (``position - j``); 0 when not valid.
    valid : Out(1).array(subgroup // 2)
        Lane j has a bit to add this cycle.
    """

    latency = 0

    def __init__(self, subgroup: int = 8):
        self.subgroup = _check_gs(subgroup)
        self.lanes = self.subgroup // 2
        self.sel_width = bbs_sel_width(self.subgroup)
        super().__init__({
            "column": In(self.subgroup),
            "invert": Out(1),
            "sel": Out(self.sel_width).array(self.lanes),
            "valid": Out(1).array(self.lanes),
        })

    def elaborate(self, platform):
        m = Module()
        gs, half = self.subgroup, self.lanes
        m.submodules.popcount = pc = Popcount(gs)
        m.d.comb += [pc.data.eq(self.column), self.invert.eq(pc.count > half)]
        rest = Signal(gs, name="remaining_top")
        m.d.comb += rest.eq(Mux(self.invert, ~self.column, self.column))
        for j in reversed(range(half)):
            lod = LeadingOneDetector(half + 1)
            m.submodules[f"lane{j}_lod"] = lod
            m.d.comb += lod.data.eq(rest[j:j + half + 1])        # j + half + 1 <= gs for every lane
            m.d.comb += [self.sel[j].eq(Mux(lod.valid, lod.index, 0)), self.valid[j].eq(lod.valid)]
            nxt = Signal(gs, name=f"remaining_below_lane{j}")
            taken = Signal(gs, name=f"taken_lane{j}")
            m.d.comb += taken.eq(Mux(lod.valid, Const(1, gs) << (lod.index + j), 0))
            m.d.comb += nxt.eq(rest & ~taken)
            rest = nxt
        return m
