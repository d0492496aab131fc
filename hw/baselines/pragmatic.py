"""Pragmatic PE: essential-bit serial dot product on the weights, ``max(1, max_i popcount(|w_i|))`` cycles.

Pragmatic (MICRO'17, algorithms.md 6 "Pragmatic") processes only the one bits of an operand. As in the
BBS authors' model (``BitSim/sim/sim/pragmatic.py``) the serial operand is the **weight**, not the
activation of the original paper. Golden model: :func:`golden.baselines.pragmatic_cycle_sums` (partial
sums cycle by cycle), :func:`golden.baselines.pragmatic_dot`; cycle model:
:func:`golden.cycles.group_cycles_pragmatic`.

Datapath of the ``lanes`` (G_pe) lanes:

* at load, each lane registers its magnitude ``|w_i|`` (B-1 bits) and its activation with the weight's
  sign folded in, ``s_i = sign ? -x_i : x_i`` (``act_bits + 1`` bits); a :class:`~hw.blocks.popcount.Popcount`
  per lane and a max tree give the group's step count ``max(1, max_i popcount(|w_i|))``, which the
  :class:`~hw.pe.SerialSequencer` samples;
* every step, a :class:`~hw.blocks.lod.LeadingOneDetector` per lane finds the highest remaining one bit ``o_i``
  of the magnitude (the "offset" of Pragmatic's offset encoding), a
  :class:`~hw.blocks.barrel_shifter.BarrelShifter` per lane forms ``s_i << o_i`` (0 when the lane has no one
  left), the :class:`~hw.blocks.adder_tree.AdderTree` sums the lanes into the accumulator, and the bit ``o_i`` is
  cleared in the magnitude register.

So the partial sum after step ``t`` is ``sum_i s_i * (the t+1 highest one bits of |w_i|)``, exactly the
golden ``pragmatic_cycle_sums``; the lanes are synchronised (the group lasts as long as its slowest lane).

Design decisions ([I] in the spec and golden model):

* [I] offsets are consumed **MSB-first** (the golden order); the result does not depend on it.
* [I] an all-zero group takes **one** step (the sequencer's ``n_steps = 0`` counts as 1), like the model.
* [I] the synchronisation unit is the whole PE (``PragmaticConfig.sync_group = pe_length``): inside one PE
  the next group cannot start before every lane is done, whatever the sub-grouping, so a smaller
  ``sync_group`` would not change this PE's cycles (it matters only between PEs of an array).
* [I] the offsets are computed on the fly by one LOD per lane instead of being stored pre-encoded
  (Pragmatic's oneffset encoder sits in front of the PEs): the weights arrive in plain sign-magnitude,
  which keeps the payload B bits per lane, and the LOD costs ``ceil(log2(B-1))`` mux levels.
* [I] the sign is folded into the activation once per group (one negation per lane at load), so the
  per-step path is LOD, shifter, adder tree, accumulator with no negation in it.
* sign-magnitude ``-0`` (sign 1, magnitude 0) is accepted and is 0; ``-2**(B-1)`` has no code
  (:meth:`encode_weights` refuses it, as does the golden model).

Ports: the PE streaming contract of :mod:`hw.pe`. The ``weights`` payload is
``ArrayLayout(StructLayout({"mag": unsigned(B-1), "sign": 1}), lanes)``: lane ``i`` occupies bits
``[B*i, B*i + B)`` with its magnitude in the low ``B-1`` bits and the sign on top (the usual
sign-magnitude bit order). Accumulator and result width: ``PragmaticConfig.acc_width`` (every partial
sum lies inside the final-sum range, see :class:`~golden.baselines.PragmaticConfig`).

Timing: a group of ``n`` steps is accepted, runs ``n`` cycles, and its result is valid one cycle after
the last step (latency ``n + 1``); back to back, one group every ``n`` cycles, ``1 <= n <= B-1``.
"""

from amaranth.hdl import Module, Mux, Signal, signed, unsigned
from amaranth.lib import data

from golden.baselines import PragmaticConfig
from golden.bits import signed_width
from golden.check import check_int, check_int_array
from golden.primitives import popcount_width, shifter_widths
from hw.blocks.adder_tree import AdderTree
from hw.blocks.barrel_shifter import BarrelShifter
from hw.base import Component
from hw.blocks.lod import LeadingOneDetector
from hw.pe import SerialSequencer, pe_ports
from hw.blocks.popcount import Popcount

__all__ = ["PragmaticPE"]


class PragmaticPE(Component):
    """Pragmatic essential-bit serial PE (serial on the weights).

    Parameters
    ----------
    bits : int
        Weight bits B including the sign (2..16); magnitudes have B-1 bits.
    lanes : int
        Dot-product length G_pe (1..64).
    act_bits : int
        Activation bits (2..16), two's complement.

    Ports: see :mod:`hw.pe`; ``weights`` layout: :meth:`weights_layout`. ``max_steps_per_group``
    = B-1; the steps of one group are ``max(1, max_i popcount(|w_i|))``.

    Attributes
    ----------
    acc : Signal(signed(acc_width))
        The accumulator register (not a port; exposed for simulation tests of the partial sums).
    """

    def __init__(self, bits: int = 8, lanes: int = 16, act_bits: int = 8):
        check_int("lanes", lanes, lo=1, hi=64)
        check_int("act_bits", act_bits, lo=2, hi=16)
        self.config = PragmaticConfig(bits=bits, pe_length=lanes, act_bits=act_bits)
        self.bits, self.lanes, self.act_bits = bits, lanes, act_bits
        self.acc = Signal(signed(self.config.acc_width), name="acc")
        super().__init__(pe_ports(self.weights_layout(bits, lanes), lanes=lanes, act_bits=act_bits,
                                  result_width=self.config.acc_width))

    @staticmethod
    def weights_layout(bits: int, lanes: int) -> data.ArrayLayout:
        """``lanes`` sign-magnitude weights: ``{"mag": B-1 bits, "sign": 1 bit}`` each, sign on top."""
        return data.ArrayLayout(data.StructLayout({"mag": unsigned(bits - 1), "sign": 1}), lanes)

    @staticmethod
    def encode_weights(w_group, bits: int) -> list[dict]:
        """One group of integer weights as the payload value of :meth:`weights_layout` (a list of dicts).

        ``w_group`` is 1-D, in ``[-(2**(B-1)-1), 2**(B-1)-1]``; ``-2**(B-1)`` is refused (no
        sign-magnitude code). 0 is encoded with sign 0.
        """
        lo, hi = PragmaticConfig(bits=bits).weight_range
        w = check_int_array("w_group", w_group, lo=lo, hi=hi, ndim=1)
        return [{"mag": abs(int(v)), "sign": int(v < 0)} for v in w]

    @property
    def max_steps_per_group(self) -> int:
        return self.config.max_cycles_per_pass

    @property
    def term_width(self) -> int:
        """Width of one lane's term ``s_i << o_i``: the folded activation widened by the largest offset."""
        if self.bits == 2:
            return self._sx_width
        return shifter_widths(self._sx_width, self.bits - 2, "left")[1]

    @property
    def _sx_width(self) -> int:
        half = 1 << (self.act_bits - 1)
        return signed_width(-half, half)          # +-x for x in [-half, half - 1]

    def elaborate(self, platform):
        m = Module()
        B, n, mw = self.bits, self.lanes, self.bits - 1
        max_steps = self.max_steps_per_group
        m.submodules.seq = seq = SerialSequencer(max_steps)
        m.submodules.tree = tree = AdderTree(n, self.term_width)
        m.d.comb += [
            seq.in_valid.eq(self.i.valid), seq.out_ready.eq(self.o.ready), seq.clear.eq(self.clear),
            self.i.ready.eq(seq.in_ready), self.o.valid.eq(seq.out_valid), self.cycles.eq(seq.cycles),
        ]

        # steps of the offered group: max over lanes of popcount(|w_i|) (0 = all zero, run as 1 step)
        counts = []
        for i in range(n):
            pc = Popcount(mw)
            m.submodules[f"popcount{i}"] = pc
            m.d.comb += pc.data.eq(self.i.payload.weights[i].mag)
            counts.append(pc.count)
        level = 0
        while len(counts) > 1:
            level += 1
            merged = []
            for k in range(0, len(counts) - 1, 2):
                a, b = counts[k], counts[k + 1]
                mx = Signal(popcount_width(mw), name=f"max_l{level}_n{k // 2}")
                m.d.comb += mx.eq(Mux(a > b, a, b))
                merged.append(mx)
            if len(counts) % 2:
                merged.append(counts[-1])
            counts = merged
        m.d.comb += seq.n_steps.eq(counts[0])

        mag = [Signal(mw, name=f"mag{i}") for i in range(n)]
        sx = [Signal(signed(self._sx_width), name=f"sx{i}") for i in range(n)]
        lods = []
        for i in range(n):
            lod = LeadingOneDetector(mw)
            m.submodules[f"lod{i}"] = lod
            m.d.comb += lod.data.eq(mag[i])
            lods.append(lod)
            if B > 2:
                sh = BarrelShifter(self._sx_width, B - 2, direction="left", arithmetic=True)
                m.submodules[f"shift{i}"] = sh
                m.d.comb += [sh.data.eq(sx[i]), sh.amount.eq(lod.index)]
                shifted = sh.result.as_signed()
            else:                                  # one magnitude bit: the only offset is 0
                shifted = sx[i]
            m.d.comb += tree.x[i].eq(Mux(lod.valid, shifted, 0))
        with m.If(seq.load):
            for i in range(n):
                w, x = self.i.payload.weights[i], self.i.payload.acts[i]
                m.d.sync += [mag[i].eq(w.mag), sx[i].eq(Mux(w.sign, -x, x))]
        with m.Elif(seq.active):
            for i in range(n):                     # the offset just used is done
                m.d.sync += mag[i].bit_select(lods[i].index, 1).eq(0)

        acc, acc_next = self.acc, Signal(signed(self.config.acc_width))
        m.d.comb += acc_next.eq(Mux(seq.step == 0, 0, acc) + tree.sum)
        with m.If(seq.active):
            m.d.sync += acc.eq(acc_next)
        with m.If(seq.last):
            m.d.sync += self.o.payload.eq(acc_next)
        return m
