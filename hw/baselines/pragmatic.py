"""Pragmatic PE: essential-bit serial dot product on the weights, ``max(1, max_i popcount(|w_i|))`` steps.

Pragmatic (MICRO 2017; docs/baselines.md) processes only the one bits of an operand; as in the BBS
authors' model the serial operand is the **weight**. Golden model: :func:`golden.baselines.pragmatic_cycle_sums`
(partial sums step by step), :func:`golden.baselines.pragmatic_dot`; cycle model
:func:`golden.cycles.group_cycles_pragmatic`.

Datapath of the ``pe_length`` lanes: at load, each lane registers its magnitude ``|w_i|`` and its
activation with the weight's sign folded in (``s_i = sign ? -x_i : x_i``), and a popcount per lane and a
max tree give the group's step count. Every step, a leading-one detector per lane finds the highest
remaining one bit ``o_i`` (Pragmatic's offset), a barrel shifter forms ``s_i << o_i``, an adder tree sums
the lanes into the accumulator, and the bit is cleared.

Choice: offsets are consumed MSB-first. Choice: an all-zero group takes one step. Choice: the offsets are
found on the fly by one LOD per lane (plain sign-magnitude weights in the payload, B bits per lane).
Choice: the sign is folded into the activation once per group, so no negation is on the per-step path.

Built from a :class:`golden.baselines.PragmaticConfig`. Ports: :mod:`hw.pe`; ``weights`` is
``ArrayLayout({"mag": B-1 bits, "sign": 1}, pe_length)`` (sign on top; ``-0`` is 0, ``-2**(B-1)`` has no
code). Result width ``PragmaticConfig.acc_width`` (every partial sum lies inside the final-sum range).
Timing: a group of ``n`` steps (``1 <= n <= B-1``) runs ``n`` cycles, result valid one cycle after its
last step; back to back one group every ``n`` cycles.
"""

from amaranth.hdl import Module, Mux, Signal, signed, unsigned
from amaranth.lib import data

from golden.baselines import PragmaticConfig
from golden.bits import signed_width
from golden.check import check_sign_magnitude_array
from golden.primitives import popcount_width, shifter_widths
from hw.blocks.adder_tree import AdderTree
from hw.blocks.barrel_shifter import BarrelShifter
from hw.blocks.lod import LeadingOneDetector
from hw.pe import PE
from hw.blocks.popcount import Popcount

__all__ = ["PragmaticPE"]


class PragmaticPE(PE):
    """Pragmatic essential-bit serial PE (serial on the weights), built from a
    :class:`~golden.baselines.PragmaticConfig`. Hardware limits: ``pe_length`` 1..64, ``act_bits`` 2..16.

    Attributes
    ----------
    acc : Signal(signed(acc_width))
        The accumulator register (not a port; the simulator tests compare it with the golden partial sums).
    """

    config_class = PragmaticConfig
    hw_limits = {"pe_length": (1, 64), "act_bits": (2, 16)}
    field_meanings = {"weights[i].mag": "magnitude |w| of lane i's weight",
                      "weights[i].sign": "sign of lane i's weight (1 = negative)",
                      "acts[i]": "activation of lane i, two's complement"}

    def __init__(self, config):
        super().__init__(config)
        self.acc = Signal(signed(self.config.acc_width), name="acc")

    @classmethod
    def weights_layout(cls, config) -> data.ArrayLayout:
        """``pe_length`` sign-magnitude weights: ``{"mag": B-1 bits, "sign": 1 bit}`` each, sign on top."""
        return data.ArrayLayout(data.StructLayout({"mag": unsigned(config.bits - 1), "sign": 1}),
                                config.pe_length)

    def encode_weights(self, weights) -> list[dict]:
        """One group of integer weights (``[-(2**(B-1)-1), 2**(B-1)-1]``; ``-2**(B-1)`` is refused: no
        sign-magnitude code) as ``{"mag", "sign"}`` dicts; 0 is encoded with sign 0."""
        w = check_sign_magnitude_array("weights", weights, self.config.bits)
        return [{"mag": abs(int(v)), "sign": int(v < 0)} for v in w]

    @property
    def max_steps(self) -> int:
        return self.config.max_cycles_per_pass

    @property
    def term_width(self) -> int:
        """Width of one lane's term ``s_i << o_i``: the folded activation widened by the largest offset."""
        if self.config.bits == 2:
            return self._sx_width
        return shifter_widths(self._sx_width, self.config.bits - 2, "left")[1]

    @property
    def _sx_width(self) -> int:
        half = 1 << (self.config.act_bits - 1)
        return signed_width(-half, half)          # +-x for x in [-half, half - 1]

    def elaborate(self, platform):
        m = Module()
        B, n, mw = self.config.bits, self.config.pe_length, self.config.bits - 1
        m.submodules.tree = tree = AdderTree(n, self.term_width)

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
        seq = self.add_sequencer(m, self.max_steps, counts[0])

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
