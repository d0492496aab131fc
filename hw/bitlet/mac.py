"""Bitlet MAC datapath: per-lane one-hot select, sign fold, lane sum and accumulator (docs/bitlet.md,
steps 4-5).

The part of the Bitlet PE that sees the activations. Each cycle lane ``g`` (significance ``2**g``) picks
the activation of one pair through its ``n_total``:1 select and the PE adds ``sum_g x_g << g`` to its
accumulator. *Which* pair each lane picks, and the sign of that pair's weight, depend on the weights
only: they come from the lane schedulers (:class:`hw.bitlet.lane.BitletLane`) as registered inputs, so
one set of schedulers could drive several MACs that share the weights (the scope of the BBS authors'
Bitlet MAC model, whose ``act_sel``/``act_val`` are ports too).

Select: one-hot (``sel[g]`` has bit ``i`` set when lane ``g`` picks pair ``i``; all zero for a bubble),
an AND-OR over the pairs: ``OR_i (sel_i & act_i)``. In LUT4s that is two AND terms per LUT and then
an OR tree, 11 LUTs per bit for 16 pairs, and a bubble's zero comes for free; a binary-coded 16:1 mux
needs at least 10 and then a gate for the bubble.

Choice, sign fold: the weight's sign of the selected pair, ``neg[g]``, flips the selected activation in
ones' complement, ``x_g = act ^ -neg`` (``-act - 1``, still ``x_width`` bits; the XOR sits in the last
LUT of the OR tree), and the missing ``+1`` of every lane is collected as one ``n``-bit word
``sum_g neg_g << g`` that enters the lane sum (:class:`hw.bitlet.psum.ShiftedSum`) as its extra term. No
negator per pair.

Three register stages, so that no path crosses both the select and an adder, nor two adder
chains: stage 1
registers the selected, folded lane values ``x_g`` and the corrections, stage 2 the lane sum
(:class:`hw.bitlet.psum.ShiftedSum`), stage 3 is the accumulator, ``acc <= (first ? 0 : acc) + psum``.
A step entered with ``step`` reaches the accumulator :data:`BitletMAC.latency` cycles later; the
``first``/``last`` flags travel with it, and ``finishing`` says that the accumulator adds a pass's last
step this cycle, so ``acc_next`` is that pass's result. ``hold`` freezes every stage (the PE's output
register is full; a ``step`` offered then is not taken: the PE does not offer one); ``clear`` drops the
steps in stages 1 and 2 (the accumulator keeps a stale partial sum, which the next pass's ``first`` step
discards). Golden value of one step's lane sum:
:func:`mac_step_value`.

Ports
-----
acts : In(act_shape).array(n_total)
    The pass's activations (fixed: signed ``x_width``-bit; fp32: the unsigned 24-bit mantissas).
sel : In(n_total).array(n_lanes)
    One-hot select of each lane (0: the lane adds nothing).
neg : In(1).array(n_lanes)
    The sign of the selected pair's weight (0 when ``sel`` is 0).
step, first, last : In(1)
    A step enters this cycle; it is its pass's first (the accumulator restarts) / last step.
hold, clear : In(1)
    Freeze every stage / drop the steps in stages 1 and 2 (wins over ``hold``; ``acc`` is undefined
    until the next pass's first step).
acc : Out(signed(acc_width))
    The accumulator register.
acc_next : Out(signed(acc_width))
    ``(first ? 0 : acc) + psum`` of the step in the accumulate stage (combinational).
finishing : Out(1)
    The accumulate stage holds a pass's last step: ``acc_next`` is the pass's result.
"""

from __future__ import annotations

from amaranth.hdl import Module, Mux, Signal, signed
from amaranth.lib.wiring import In, Out

from golden.check import check_int
from hw.base import Component
from hw.bitlet.psum import ShiftedSum

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

    ``latency = 2``: a step entered in cycle ``t`` is in the accumulate stage in cycle ``t + 2``.

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

    latency = 2

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
            "step": In(1), "first": In(1), "last": In(1), "hold": In(1), "clear": In(1),
            "acc": Out(signed(self.acc_width)),
            "acc_next": Out(signed(self.acc_width)),
            "finishing": Out(1),
        })

    def elaborate(self, platform):
        m = Module()
        n, xw = self.n_total, self.x_width
        aw = len(self.acts[0])
        go = ~self.hold
        # control flags of the step in stage 1 (lane values) and stage 2 (lane sum)
        v1, f1, l1, v2, f2, l2 = (Signal(name=nm) for nm in ("v1", "f1", "l1", "v2", "f2", "l2"))
        with m.If(go):
            m.d.sync += [v1.eq(self.step), f1.eq(self.first), l1.eq(self.last), v2.eq(v1), f2.eq(f1), l2.eq(l1)]
        with m.If(self.clear):
            m.d.sync += [v1.eq(0), v2.eq(0)]

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
            with m.If(self.step & go):
                m.d.sync += [x_reg.eq(x ^ self.neg[g].replicate(xw)), c_reg.eq(self.neg[g])]
        psum = Signal(signed(tree.out_width))
        with m.If(v1 & go):
            m.d.sync += psum.eq(tree.sum)
        m.d.comb += [self.acc_next.eq(Mux(f2, 0, self.acc) + psum), self.finishing.eq(v2 & l2)]
        with m.If(v2 & go):
            m.d.sync += self.acc.eq(self.acc_next)
        return m
