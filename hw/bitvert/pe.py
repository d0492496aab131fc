"""BitVert PE: BBS bi-directional bit-serial dot product, ``B - N`` cycles per pruned pass, ``B`` per sensitive.

Paper: BBS / BitVert (MICRO 2024), docs/bbs.md (BitVert PE). One pass computes the exact
``sum_i w'_i a_i`` of ``lanes`` (G_pe, default 16) weights of a BBS-compressed group with int8
activations, one live weight column per cycle, MSB first, through the datapath form of docs/bbs.md::

    sum_i w'_i a_i = sum_live columns (+/-) 2**col_idx * BBSsum_column  +  C * sum(A)

Golden model: :attr:`golden.bbs.BBSColumnSums.pass_psum` (the result),
:func:`golden.bitvert.pe_cycle_sums` (the accumulator after every cycle); cycle model
:func:`golden.cycles.group_cycles_bitvert`.

Datapath (paper Fig. 7b, generalised to ``S = lanes / Gs`` sub-groups of ``Gs``):

* :class:`~hw.bitvert.scheduler.BBSScheduler` (one per PE row in an array; here inside the PE) holds the
  group's column words and gives, per cycle, the invert flag and ``Gs/2`` lane selects of every
  sub-column (:class:`~hw.bitvert.column_decoder.BBSColumnDecoder`), ``col_idx``, ``is_msb`` and the constant
  digit;
* per sub-group: ``Gs/2`` lanes, each a ``(Gs/2 + 1):1`` AND-OR window mux over activations
  ``j .. j + Gs/2`` (one-hot select ``sel_onehot``, 0 = idle lane), an :class:`~hw.blocks.adder_tree.AdderTree`
  of the lanes (``L``), and the Eq. 2/3 select with the sign-column negation folded in: the signed term
  ``(-1)**is_msb * (invert ? sum(A_sub) - L : L)`` computed as ``offset +/- L`` in one adder per sub-group
  (``offset`` = ``+/- sum(A_sub)`` when inverted, else 0; subtract when ``invert xor is_msb``),
  ``cfg.subgroup_sum_width + 1`` bits;
* the sum of the sub-groups (``cfg.pass_sum_width + 1`` bits) shifted by ``col_idx`` in one
  :class:`~hw.blocks.barrel_shifter.BarrelShifter`;
* the BBS constant term ``C * sum(A)`` time-multiplexed (the paper: "3 constant bits per cycle, plus a shifter"):
  one 4-bit signed digit times the pass activation sum per cycle, ``<< 3`` in the first cycle (high digit),
  unshifted in the second (low digit), nothing after (:func:`golden.bitvert.constant_digits`). A 4 x 12 bit
  product, never a full 6-bit constant multiplier; both digits fit because ``N <= B - 2`` leaves at least
  2 live columns;
* the accumulator: ``acc <- (is_msb ? 0 : acc) + column term + constant term``, written in every step;
  the last step writes the result register.

Choices (docs/bbs.md):

* the constant is applied per pass with the pass's own activation sum (a choice), so a G = 32 group is
  two passes that carry the same metadata byte;
* high constant digit in the first cycle, low in the second (:mod:`golden.bitvert` explains why: the
  partial sums stay inside :func:`golden.bitvert.partial_weight_range`);
* accumulator ``pe_acc_width(cfg)`` bits (every partial sum, derived from ``BBSConfig``: equal to
  ``cfg.acc_width`` for the defaults); the result port is ``cfg.acc_width`` bits (the
  exact range of one pass's dot product, :attr:`golden.bbs.BBSConfig.weight_range` x int8, including
  ZPS weights outside INT-B);
* the sub-group and pass activation sums are adder trees on the *offered* activations, registered with
  the group at load (in the paper's array a shared "Group sum(A) generator" computes them once per input
  group); they are therefore off the per-cycle path, like the registered scheduler decisions;
* the scheduler's per-column decisions are registered one column ahead (:mod:`hw.bitvert.scheduler`): the
  decoder chain and this datapath are in different cycles; the per-cycle path is scheduler registers ->
  window muxes -> lane tree -> +/- -> sub-group sum -> shifter -> accumulator adder (``acc_base =
  (is_msb ? 0 : acc) + constant term`` is formed off that path). Same cycle behaviour as without these
  registers; default PE 8.9 -> 17.0 MHz (iCE40 UP5K), 31.9 -> 51.4 MHz (ECP5-85F);
* no pipeline register between the shifter and the accumulator (the RTL has one): the streaming contract
  of :mod:`hw.pe` gives latency ``n + 1`` and one pass every ``n`` cycles without it;
* ``ShiftAccumulator`` is not reused: it adds one term per cycle, BitVert adds the column term and the
  constant term in the same cycle (RTL: "the product is added to the accumulator in the same cycle as the
  column psum"), and its width bound is for arbitrary terms rather than BBS groups.

Ports: the PE streaming contract of :mod:`hw.pe`; ``weights`` payload
:meth:`BBSScheduler.weights_layout <hw.bitvert.scheduler.BBSScheduler.weights_layout>` (``columns``,
``meta``, ``sensitive``, ``signed_const``); ``acts``: ``lanes`` signed int8. Timing: a pass of ``n``
steps (``B - N`` pruned, ``B`` sensitive) is accepted, runs ``n`` cycles, result valid one cycle after
the last (latency ``n + 1``); back to back one pass every ``n`` cycles.
"""

from __future__ import annotations

import operator
from functools import reduce

from amaranth.hdl import Module, Mux, Signal, signed

from golden.bits import signed_width, twos_range
from golden.bitvert import DIGIT_BITS, digit_range, pe_acc_width
from hw.blocks.adder_tree import AdderTree
from hw.blocks.barrel_shifter import BarrelShifter
from hw.base import Component
from hw.bitvert.scheduler import BBSScheduler, bitvert_config
from hw.pe import SerialSequencer, pe_ports

__all__ = ["BitVertPE", "ACT_BITS"]

ACT_BITS = 8               # BBS activations are int8 (golden.bbs)


class BitVertPE(Component):
    """BitVert bit-serial PE with its BBS scheduler.

    Parameters
    ----------
    bits : int
        Weight bits B, 2..16 (default 8).
    pruned : int
        N, pruned columns of a pruned group, 0..min(6, B-2) (default 2; 4 is the paper's "mod").
    lanes : int
        G_pe, dot-product length of one pass, a multiple of ``subgroup``, up to 64 (default 16).
    subgroup : int
        Gs, invert granularity, even, 2..16 (default 8).
    const_bits : int
        p, width of the ZPS constants the PE must accept, 1..6 (default 6); only sets widths.

    Ports: see :mod:`hw.pe`. ``max_steps_per_group`` = B; :meth:`steps` gives a pass's steps.

    Attributes
    ----------
    acc : Signal(signed(acc_width))
        The accumulator register (not a port; the simulator tests compare it with
        :func:`golden.bitvert.pe_cycle_sums` cycle by cycle). ``acc_width = pe_acc_width(config)``.
    """

    def __init__(self, bits: int = 8, pruned: int = 2, lanes: int = 16, subgroup: int = 8,
                 const_bits: int = 6):
        self.config = bitvert_config(bits, pruned, lanes, subgroup, const_bits)
        self.bits, self.pruned, self.lanes, self.subgroup = bits, pruned, lanes, subgroup
        self.const_bits = const_bits
        self.acc_width = pe_acc_width(self.config)
        self.acc = Signal(signed(self.acc_width), name="acc")     # not a port: observed by the tests
        super().__init__(pe_ports(self.weights_layout(bits, lanes), lanes=lanes, act_bits=ACT_BITS,
                                  result_width=self.config.acc_width))

    @staticmethod
    def weights_layout(bits: int, lanes: int):
        return BBSScheduler.weights_layout(bits, lanes)

    @property
    def max_steps_per_group(self) -> int:
        return self.bits

    def steps(self, sensitive: bool) -> int:
        """Cycles of one pass: ``B`` for a sensitive group, ``B - N`` for a pruned one."""
        return self.bits if sensitive else self.bits - self.pruned

    def elaborate(self, platform):
        m = Module()
        cfg = self.config
        B, n, gs = self.bits, self.lanes, self.subgroup
        half, S = gs // 2, n // gs
        m.submodules.seq = seq = SerialSequencer(B)
        m.submodules.scheduler = sch = BBSScheduler(B, self.pruned, n, gs)
        m.d.comb += [
            seq.in_valid.eq(self.i.valid), seq.out_ready.eq(self.o.ready), seq.clear.eq(self.clear),
            seq.n_steps.eq(sch.n_steps),
            sch.group.eq(self.i.payload.weights), sch.load.eq(seq.load), sch.advance.eq(seq.active),
            self.i.ready.eq(seq.in_ready), self.o.valid.eq(seq.out_valid), self.cycles.eq(seq.cycles),
        ]
        acts = [Signal(signed(ACT_BITS), name=f"a{i}") for i in range(n)]
        with m.If(seq.load):
            m.d.sync += [acts[i].eq(self.i.payload.acts[i]) for i in range(n)]

        # activation sums of the offered group, computed at load and registered with it
        sub_asums = []
        for s in range(S):
            asum_tree = AdderTree(gs, ACT_BITS)
            m.submodules[f"asum{s}"] = asum_tree
            m.d.comb += [asum_tree.x[i].eq(self.i.payload.acts[s * gs + i]) for i in range(gs)]
            sub_asum = Signal(signed(cfg.subgroup_sum_width), name=f"sub{s}_asum")
            with m.If(seq.load):
                m.d.sync += sub_asum.eq(asum_tree.sum)
            sub_asums.append((sub_asum, asum_tree.sum))
        m.submodules.pass_asum_tree = pa_tree = AdderTree(S, cfg.subgroup_sum_width)
        m.d.comb += [pa_tree.x[s].eq(sub_asums[s][1]) for s in range(S)]
        pass_asum = Signal(signed(cfg.pass_sum_width))
        with m.If(seq.load):
            m.d.sync += pass_asum.eq(pa_tree.sum)

        # per sub-group: window muxes, adder tree, Eq. 2 / Eq. 3 select with the sign-column negation
        # folded in: (+/-)(invert ? asum - L : L) = offset +/- L, one adder per sub-group
        bbs_sums = []
        sw = cfg.subgroup_sum_width + 1
        for s in range(S):
            base = s * gs
            lanes_tree = AdderTree(half, ACT_BITS)
            m.submodules[f"lanes{s}"] = lanes_tree
            for j in range(half):
                lane = Signal(signed(ACT_BITS), name=f"sub{s}_lane{j}")
                oh = sch.sel_onehot[s][j]
                picks = [acts[base + j + k] & oh[k].replicate(ACT_BITS) for k in range(half + 1)]
                m.d.comb += lane.eq(reduce(operator.or_, picks))
                m.d.comb += lanes_tree.x[j].eq(lane)
            sub_asum = sub_asums[s][0]
            neg = Signal(name=f"sub{s}_neg")
            offset = Signal(signed(sw), name=f"sub{s}_offset")
            lsum = Signal(signed(sw), name=f"sub{s}_lanes")
            bbs = Signal(signed(sw), name=f"sub{s}_bbs_term")
            m.d.comb += [
                neg.eq(sch.invert[s] ^ sch.is_msb),
                offset.eq(Mux(sch.invert[s], Mux(sch.is_msb, -sub_asum, sub_asum), 0)),
                lsum.eq(lanes_tree.sum),
                bbs.eq(Mux(neg, offset - lsum, offset + lsum)),
            ]
            bbs_sums.append(bbs)

        m.submodules.column_tree = col_tree = AdderTree(S, sw)
        m.d.comb += [col_tree.x[s].eq(bbs_sums[s]) for s in range(S)]
        term = Signal(signed(cfg.pass_sum_width + 1))
        m.d.comb += term.eq(col_tree.sum)

        # the single shifter << col_idx
        m.submodules.shifter = sh = BarrelShifter(cfg.pass_sum_width + 1, B - 1, "left", arithmetic=True)
        m.d.comb += [sh.data.eq(term), sh.amount.eq(sch.col_idx)]
        col_term = sh.result.as_signed()

        # time-multiplexed BBS constant: one digit x sum(A) per cycle, << 3 for the high digit
        dlo, dhi = digit_range()
        plo, phi = twos_range(cfg.pass_sum_width)
        prods = (dlo * plo, dlo * phi, dhi * plo, dhi * phi)
        const_prod = Signal(signed(signed_width(min(prods), max(prods))))
        const_term = Signal(signed(len(const_prod) + DIGIT_BITS))
        m.d.comb += [
            const_prod.eq(sch.const_digit * pass_asum),
            const_term.eq(Mux(sch.const_shift, const_prod << DIGIT_BITS, const_prod)),
        ]

        acc = self.acc
        acc_next = Signal(signed(self.acc_width))
        acc_base = Signal(signed(self.acc_width))     # may wrap; acc_next (modulo 2**acc_width) is exact
        m.d.comb += [acc_base.eq(Mux(sch.is_msb, 0, acc) + const_term), acc_next.eq(acc_base + col_term)]
        with m.If(seq.active):
            m.d.sync += acc.eq(acc_next)
        with m.If(seq.last):
            m.d.sync += self.o.payload.eq(acc_next)
        return m
