"""Bitlet MAC datapath: per-lane one-hot select, sign fold, lane sum and accumulator (algorithms.md 3.3
steps 4-5).

The part of the Bitlet PE that sees the activations. Each cycle lane ``g`` (significance ``2**g``) picks
the activation of one pair through its ``n_total``:1 select and the PE adds ``sum_g x_g << g`` to its
accumulator. *Which* pair each lane picks, and the sign of that pair's weight, depend on the weights
only: they come from the lane schedulers (:class:`hw.bitlet_lane.BitletLane`) as registered inputs, so
one set of schedulers could drive several MACs that share the weights (the scope of the BBS authors'
Bitlet MAC model, whose ``act_sel``/``act_val`` are ports too).

Select: one-hot (``sel[g]`` has bit ``i`` set when lane ``g`` picks pair ``i``; all zero for a bubble),
an AND-OR over the pairs: ``OR_i (sel_i & act_i)``. On iCE40 LUT4s that is 11 LUTs per bit for 16 pairs
(two AND terms per LUT, then a 4-input OR tree) with the bubble's zero for free, against 13 LUTs plus a
gating LUT for a binary-coded 16:1 mux after ``synth_ice40`` (measured on 8 lanes of 9 bits: 792 against
936 LUT4).

Sign fold [I]: the weight's sign of the selected pair, ``neg[g]``, flips the selected activation in
ones' complement, ``x_g = act ^ -neg`` (``-act - 1``, still ``x_width`` bits; the XOR sits in the last
LUT of the OR tree), and the missing ``+1`` of every lane is collected as one ``n``-bit word
``sum_g neg_g << g`` that enters the lane sum (:class:`hw.bitlet_psum.ShiftedSum`) as its extra term. No
negator per pair.

Two register stages, so that the select and the adders are not one combinational path (on iCE40 the
path act -> select -> lane sum -> accumulator is about 48 ns, the two halves about 25): ``capture``
registers the folded lane values ``x_g`` and the corrections; one cycle later ``accumulate`` adds them:
``acc_next = (restart ? 0 : acc) + lane sum``, ``acc <= acc_next``. Golden value of one step's lane sum:
:func:`mac_step_value`.

Ports
-----
acts : In(act_shape).array(n_total)
    The pass's activations (fixed: signed ``x_width``-bit; fp32: the unsigned 24-bit mantissas).
sel : In(n_total).array(n_lanes)
    One-hot select of each lane (0: the lane adds nothing).
neg : In(1).array(n_lanes)
    The sign of the selected pair's weight (0 when ``sel`` is 0).
capture : In(1)
    Register this cycle's selected, folded lane values (stage 1).
accumulate : In(1)
    Add the registered lane values to the accumulator this cycle (stage 2).
restart : In(1)
    With ``accumulate``: start from 0 instead of ``acc`` (the pass's first step).
acc : Out(signed(acc_width))
    The accumulator register.
acc_next : Out(signed(acc_width))
    ``(restart ? 0 : acc) + lane sum`` of the registered lane values (combinational).
"""

from __future__ import annotations

from amaranth.hdl import Module, Mux, Signal, signed
from amaranth.lib.wiring import In, Out

from golden.check import check_int
from hw.base import Component
from hw.bitlet_psum import ShiftedSum

__all__ = ["BitletMAC", "mac_step_value"]


def mac_step_value(acts, sel, neg) -> int:
    """Golden lane sum of one step: ``sum_g (-1)**neg_g * acts[index(sel_g)] << g`` (0 for an empty
    ``sel_g``); ``sel`` one-hot integers, ``acts`` Python ints as the MAC sees them."""
    total = 0
    for g, (s, n) in enumerate(zip(sel, neg)):
        if s:
            if s & (s - 1):
                raise ValueError(f"sel[{g}] must be one-hot or 0, got {s:#x}")
            a = int(acts[s.bit_length() - 1])
            total += (-a if n else a) << g
    return total


class BitletMAC(Component):
    """Bitlet MAC datapath.

    Parameters
    ----------
    n_total : int
        Pairs (select inputs per lane), 1..64.
    n_lanes : int
        Lanes (significances), 1..24.
    x_width : int
        Width of the signed folded value ``x_g``, 2..25 (fixed point: the activation width; fp32: 25).
    act_signed : bool
        Activations are signed ``x_width``-bit (fixed) or unsigned ``x_width - 1``-bit (fp32 mantissas).
    acc_width : int
        Accumulator width, 2..64 (the caller's exact worst case).
    """

    def __init__(self, n_total: int, n_lanes: int, x_width: int, act_signed: bool, acc_width: int):
        self.n_total = check_int("n_total", n_total, lo=1, hi=64)
        self.n_lanes = check_int("n_lanes", n_lanes, lo=1, hi=24)
        self.x_width = check_int("x_width", x_width, lo=2, hi=25)
        self.act_signed = bool(act_signed)
        self.acc_width = check_int("acc_width", acc_width, lo=2, hi=64)
        act_shape = signed(self.x_width) if self.act_signed else self.x_width - 1
        super().__init__({
            "acts": In(act_shape).array(self.n_total),
            "sel": In(self.n_total).array(self.n_lanes),
            "neg": In(1).array(self.n_lanes),
            "capture": In(1), "accumulate": In(1), "restart": In(1),
            "acc": Out(signed(self.acc_width)),
            "acc_next": Out(signed(self.acc_width)),
        })

    def elaborate(self, platform):
        m = Module()
        n, xw = self.n_total, self.x_width
        aw = len(self.acts[0])
        m.submodules.tree = tree = ShiftedSum(self.n_lanes, xw, extra_width=self.n_lanes)
        for g in range(self.n_lanes):
            picked = Signal(aw, name=f"picked{g}")
            x = Signal(signed(xw), name=f"x{g}")
            x_reg = Signal(signed(xw), name=f"x{g}_reg")
            c_reg = Signal(name=f"c{g}_reg")
            terms = [self.acts[i].as_unsigned() & self.sel[g][i].replicate(aw) for i in range(n)]
            any_term = terms[0]
            for t in terms[1:]:
                any_term = any_term | t
            m.d.comb += [
                picked.eq(any_term),
                x.eq(picked.as_signed() if self.act_signed else picked),
                tree.x[g].eq(x_reg),
                tree.extra[g].eq(c_reg),
            ]
            with m.If(self.capture):
                m.d.sync += [x_reg.eq(x ^ self.neg[g].replicate(xw)), c_reg.eq(self.neg[g])]
        m.d.comb += self.acc_next.eq(Mux(self.restart, 0, self.acc) + tree.sum)
        with m.If(self.accumulate):
            m.d.sync += self.acc.eq(self.acc_next)
        return m
