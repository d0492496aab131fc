"""Leading-one detector (LOD): index of the most significant 1 of a word, as a log-depth tree.

Used by the EBSP PE (docs/ebsp.md, decoding a plain pattern-constrained weight), by the BitVert
window scheduler (each lane takes the highest set bit of its window, docs/bbs.md), and by the Bitlet fp32 repack
(docs/bitlet.md, fp32 step 6).

Why a tree and not a priority chain: a chain (``for i in range(W): with m.If(data[i]): index = i``)
synthesizes to W cascaded 2:1 muxes, so its delay grows linearly with W (64 levels at W = 64). The tree
pads the input to a power of two, splits it in halves, and at every node keeps the upper half's index
when the upper half has a 1 (prepending a 1 bit) or else the lower half's (prepending a 0). That is
``ceil(log2 W)`` levels of one OR and one small mux each, so the critical path grows with ``log2 W`` and
the area stays linear in W.

Golden function: :func:`golden.primitives.leading_one`. Combinational: latency 0, one word per cycle.
"""

from amaranth.hdl import Cat, Const, Module, Mux, Signal
from hw.base import Component
from amaranth.lib.wiring import In, Out

from golden.check import check_int
from golden.primitives import lod_index_width

__all__ = ["LeadingOneDetector"]


class LeadingOneDetector(Component):
    """Leading-one detector of a ``width``-bit word.

    Parameters
    ----------
    width : int
        Input width, 1..64.

    Attributes
    ----------
    data : In(width)
        The word.
    index : Out(lod_index_width(width))
        Position of its most significant 1 (0 when ``data`` is 0).
    valid : Out(1)
        1 when ``data`` has any 1.
    """

    latency = 0

    def __init__(self, width: int):
        self.width = check_int("width", width, lo=1, hi=64)
        self.index_width = lod_index_width(self.width)
        super().__init__({
            "data": In(self.width),
            "index": Out(self.index_width),
            "valid": Out(1),
        })

    def elaborate(self, platform):
        m = Module()
        size = 1 << (self.width - 1).bit_length()          # pad to a power of two
        # level 0: one node per bit: valid = the bit, index = empty
        nodes = [(self.data[i] if i < self.width else Const(0, 1), None) for i in range(size)]
        level = 0
        while len(nodes) > 1:
            level += 1
            merged = []
            for k in range(0, len(nodes), 2):
                (v_lo, i_lo), (v_hi, i_hi) = nodes[k], nodes[k + 1]
                v = Signal(name=f"l{level}_n{k // 2}_valid")
                i = Signal(level, name=f"l{level}_n{k // 2}_index")
                m.d.comb += v.eq(v_lo | v_hi)
                if level == 1:
                    m.d.comb += i.eq(v_hi)
                else:
                    m.d.comb += i.eq(Cat(Mux(v_hi, i_hi, i_lo), v_hi))
                merged.append((v, i))
            nodes = merged
        valid, index = nodes[0]
        m.d.comb += self.valid.eq(valid)
        if index is not None:
            m.d.comb += self.index.eq(index)
        else:
            m.d.comb += self.index.eq(0)
        return m
