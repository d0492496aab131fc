"""Bitlet MAC datapath: per-lane one-hot select, sign fold, lane sum and accumulator (docs/bitlet.md).

Each step, lane ``g`` (significance ``2**g``) picks the activation of one pair with its one-hot ``sel[g]``
(an AND-OR over the pairs; a bubble's zero comes for free), folds the weight sign ``neg[g]`` into it, and
the accumulator adds ``sum_g x_g << g`` (:class:`hw.bitlet.psum.ShiftedSum`); golden: :func:`mac_step_value`.
Selects and signs come from the lane schedulers (:class:`hw.bitlet.lane.BitletLane`) as registered
inputs, so one set of schedulers could drive several MACs that share the weights.

Ports: in ``acts`` (the pass's activations: signed ``x_width``-bit, or unsigned 24-bit fp32 mantissas),
``sel`` and ``neg`` per lane, ``step`` / ``first`` / ``last`` (a step enters; its pass's first / last),
``hold`` (freeze every stage), ``clear`` (drop the steps in stages 1 and 2; ``acc`` is undefined until
the next ``first``, or with ``clear_acc`` zero); out ``acc`` (the accumulator register), ``acc_next`` (``(first ? 0 : acc) + psum``
of the step in the accumulate stage) and ``finishing`` (that step is its pass's last: ``acc_next`` is
the pass's result).

Latency :data:`BitletMAC.latency` = 2, one step per cycle: stage 1 registers the folded lane values,
stage 2 the lane sum, stage 3 is the accumulator, so no path crosses both the select and an adder.
Choice: the sign is folded in ones' complement, ``x_g = act ^ -neg``, and the missing ``+1`` of every
lane enters the lane sum as one ``n_lanes``-bit word ``sum_g neg_g << g``: no negator per pair.
"""

from __future__ import annotations

from amaranth.hdl import Module, Mux, Signal, signed
from amaranth.lib.wiring import In, Out

from golden.check import check_bool, check_int
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
        A bool (``numpy.bool_`` too); anything else, such as ``"False"`` or ``1``, is a ``TypeError``.
    acc_width : int
        Accumulator width, 2..64 (the caller's exact worst case, or the tile accumulator's width).
    clear_acc : bool
        ``clear`` also zeroes ``acc`` (default False): with ``first`` held low, ``acc`` then sums every
        step since ``clear`` modulo ``2**acc_width``, the tile accumulator of
        :class:`hw.array.bitlet_grid.BitletGrid`.
    """

    latency = 2

    def __init__(self, n_total: int, n_lanes: int, x_width: int, act_signed: bool, acc_width: int,
                 clear_acc: bool = False):
        self.n_total = check_int("n_total", n_total, lo=1, hi=64)
        self.n_lanes = check_int("n_lanes", n_lanes, lo=1, hi=24)
        self.x_width = check_int("x_width", x_width, lo=2, hi=25)
        self.act_signed = check_bool("act_signed", act_signed)
        self.acc_width = check_int("acc_width", acc_width, lo=2, hi=64)
        self.clear_acc = check_bool("clear_acc", clear_acc)
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
        if self.clear_acc:
            with m.If(self.clear):
                m.d.sync += self.acc.eq(0)
        return m
