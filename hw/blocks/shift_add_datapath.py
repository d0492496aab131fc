"""Shift-add datapath: one step of an essential-bit dot product, ``sum_i valid_i ? ±(x_i << pos_i) : 0``.

The datapath of the PEs serial on the weights' one bits: Pragmatic (:mod:`hw.baselines.pragmatic`, each
lane's highest remaining one bit) and Bit-balance (:mod:`hw.bitbalance.pe`, each lane's current slot).
Each step, lane ``i`` takes a *term* ``{pos, valid, sign}`` from the weight side and its activation
``x_i``: it forms ``s_i = sign ? -x_i : x_i`` (``act_bits + 1`` bits), a barrel shifter places it,
``s_i << pos``, and ``valid = 0`` makes it 0; an adder tree sums the lanes and the accumulator adds the
sum. The terms are a function of the weights alone, so in an array one row unit makes them for every PE
of the row (:class:`hw.array.shared_grid.RowSharedGrid`, docs/array.md) and this datapath is all a PE
keeps.

Two variants (``tile_acc_width``):

* PE (``None``): ``acc_width`` bits; a step with ``first`` starts the sum afresh (``acc_next = sum``),
  the others add to it (``acc_next = acc + sum``); the PE writes its result register from ``acc_next``
  in its last step.
* array (``W``): a ``W``-bit accumulator that adds every step of every pass of a tile (``first`` is not
  used) and is zeroed by ``clear``; it is the PE's output accumulator, modulo ``2**W``.

Ports: ``acts`` In(``ArrayLayout(signed(act_bits), lanes)``), held for the pass (the PE's or the column's
registers); ``terms`` In(``ArrayLayout(TERM_LAYOUT, lanes)``); ``active`` In(1) (a step executes: the
accumulator takes ``acc_next``); ``first`` In(1); ``clear`` In(1) (array variant); ``acc``
Out(signed), ``acc_next`` Out(signed), combinational. Golden function: a step of
:func:`golden.baselines.pragmatic_cycle_sums` or :func:`golden.bitbalance.cycle_partial_sums`. Latency:
the accumulator holds a step's sum one cycle after the step; one step per cycle.
"""

from __future__ import annotations

from amaranth.hdl import Module, Mux, Signal, signed, unsigned
from amaranth.lib import data
from amaranth.lib.wiring import In, Out

from golden.bits import signed_width
from golden.check import check_int
from golden.primitives import shifter_widths
from hw.base import Component
from hw.blocks.adder_tree import AdderTree
from hw.blocks.barrel_shifter import BarrelShifter

__all__ = ["ShiftAddDatapath", "term_layout"]


def term_layout(max_pos: int) -> data.StructLayout:
    """One lane's term of a step: ``pos`` (``0..max_pos``, the shifter's amount width), ``valid``, ``sign``."""
    amount = shifter_widths(1, max_pos, "left")[0] if max_pos else 1
    return data.StructLayout({"pos": unsigned(amount), "valid": 1, "sign": 1})


class ShiftAddDatapath(Component):
    """``lanes`` lanes of ``±(x << pos)`` (``act_bits``-bit activations, ``0 <= pos <= max_pos``), an
    adder tree and an accumulator of ``acc_width`` bits, or with ``tile_acc_width = W`` the array
    variant's ``W``-bit tile accumulator (module docstring)."""

    def __init__(self, lanes: int, act_bits: int, max_pos: int, acc_width: int,
                 tile_acc_width: int | None = None):
        self.lanes = check_int("lanes", lanes, lo=1, hi=64)
        self.act_bits = check_int("act_bits", act_bits, lo=2, hi=16)
        self.max_pos = check_int("max_pos", max_pos, lo=0, hi=30)
        self.tile_acc_width = None if tile_acc_width is None else check_int("tile_acc_width", tile_acc_width,
                                                                             lo=2, hi=64)
        self.acc_width = check_int("acc_width", acc_width, lo=2, hi=64) if tile_acc_width is None \
            else self.tile_acc_width
        self.term = term_layout(self.max_pos)
        ports = {"acts": In(data.ArrayLayout(signed(self.act_bits), self.lanes)),
                 "terms": In(data.ArrayLayout(self.term, self.lanes)),
                 "active": In(1), "first": In(1),
                 "acc": Out(signed(self.acc_width)), "acc_next": Out(signed(self.acc_width))}
        if self.tile_acc_width is not None:
            ports["clear"] = In(1)
        super().__init__(ports)

    @property
    def sx_width(self) -> int:
        """Width of a lane's signed activation ``±x`` (``-(-2**(a-1))`` needs ``a + 1`` bits)."""
        half = 1 << (self.act_bits - 1)
        return signed_width(-half, half)

    @property
    def term_width(self) -> int:
        """Width of one lane's term ``±x << pos``."""
        return self.sx_width + self.max_pos

    def elaborate(self, platform):
        m = Module()
        m.submodules.tree = tree = AdderTree(self.lanes, self.term_width)
        for i in range(self.lanes):
            t, x = self.terms[i], self.acts[i]
            sx = Signal(signed(self.sx_width), name=f"sx{i}")
            m.d.comb += sx.eq(Mux(t.sign, -x, x))
            if self.max_pos:
                m.submodules[f"shift{i}"] = sh = BarrelShifter(self.sx_width, self.max_pos, "left", arithmetic=True)
                m.d.comb += [sh.data.eq(sx), sh.amount.eq(t.pos)]
                shifted = sh.result.as_signed()
            else:                                      # one magnitude bit: the only position is 0
                shifted = sx
            m.d.comb += tree.x[i].eq(Mux(t.valid, shifted, 0))
        if self.tile_acc_width is None:
            m.d.comb += self.acc_next.eq(Mux(self.first, 0, self.acc) + tree.sum)
        else:
            m.d.comb += self.acc_next.eq(self.acc + tree.sum)
        with m.If(self.active):
            m.d.sync += self.acc.eq(self.acc_next)
        if self.tile_acc_width is not None:
            with m.If(self.clear):
                m.d.sync += self.acc.eq(0)
        return m
