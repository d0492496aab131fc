"""Pragmatic PE: essential-bit serial dot product on the weights, ``max(1, max_i popcount(|w_i|))`` steps.

Pragmatic (MICRO 2017; docs/baselines.md) processes only the one bits of an operand; as in the BBS
authors' model the serial operand is the **weight**. Golden model: :func:`golden.baselines.pragmatic_cycle_sums`
(partial sums step by step), :func:`golden.baselines.pragmatic_dot`; cycle model
:func:`golden.cycles.group_cycles_pragmatic`.

Two parts, so that a PE row shares the weight side (:class:`hw.array.shared_grid.RowSharedGrid`,
docs/array.md). The weight side, :class:`PragmaticOffsets`: at load each lane registers its magnitude
``|w_i|`` and sign, and a popcount per lane and a max tree give the group's step count; every step a
leading-one detector per lane finds the highest remaining one bit ``o_i`` (Pragmatic's offset), which is
then cleared. The activation side, :class:`~hw.blocks.shift_add_datapath.ShiftAddDatapath`: per lane
``±x_i << o_i`` (the sign applied to the registered activation, a barrel shifter), an adder tree into
the accumulator.

Choice: offsets are consumed MSB-first. Choice: an all-zero group takes one step. Choice: the offsets are
found on the fly by one LOD per lane (plain sign-magnitude weights in the payload, B bits per lane).

Built from a :class:`golden.baselines.PragmaticConfig`. Ports: :mod:`hw.pe`; ``weights`` is
``ArrayLayout({"mag": B-1 bits, "sign": 1}, pe_length)`` (sign on top; ``-0`` is 0, ``-2**(B-1)`` has no
code). Result width ``PragmaticConfig.acc_width`` (every partial sum lies inside the final-sum range).
Timing: a group of ``n`` steps (``1 <= n <= B-1``) runs ``n`` cycles, result valid one cycle after its
last step; back to back one group every ``n`` cycles.
"""

from amaranth.hdl import Module, Mux, Signal, signed, unsigned
from amaranth.lib import data
from amaranth.lib.wiring import In, Out

from golden.baselines import PragmaticConfig
from golden.bits import unsigned_width
from golden.check import check_sign_magnitude_array
from golden.primitives import popcount_width
from hw.base import Component
from hw.blocks.lod import LeadingOneDetector
from hw.blocks.popcount import Popcount
from hw.blocks.shift_add_datapath import ShiftAddDatapath, term_layout
from hw.pe import PE

__all__ = ["PragmaticPE", "PragmaticOffsets"]


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

    def row_unit(self) -> "PragmaticOffsets":
        """The weight side of this PE: what a PE row shares (:class:`PragmaticOffsets`)."""
        return PragmaticOffsets(self.config)

    def datapath(self, tile_acc_width: int | None = None) -> ShiftAddDatapath:
        """The activation side: ``pe_length`` lanes of ``±x << offset``, tree and accumulator
        (:class:`~hw.blocks.shift_add_datapath.ShiftAddDatapath`; ``tile_acc_width``: its array variant)."""
        cfg = self.config
        return ShiftAddDatapath(cfg.pe_length, cfg.act_bits, cfg.bits - 2, cfg.acc_width, tile_acc_width)

    def elaborate(self, platform):
        m = Module()
        m.submodules.offsets = offsets = self.row_unit()
        m.submodules.datapath = dp = self.datapath()
        seq = self.add_sequencer(m, self.max_steps, offsets.n_steps)
        acts = Signal.like(self.i.payload.acts)
        with m.If(seq.load):
            m.d.sync += acts.eq(self.i.payload.acts)
        m.d.comb += [offsets.weights.eq(self.i.payload.weights), offsets.load.eq(seq.load),
                     offsets.active.eq(seq.active),
                     dp.acts.eq(acts), dp.terms.eq(offsets.terms), dp.active.eq(seq.active),
                     dp.first.eq(seq.step == 0), self.acc.eq(dp.acc)]
        with m.If(seq.last):
            m.d.sync += self.o.payload.eq(dp.acc_next)
        return m


class PragmaticOffsets(Component):
    """The weight side of a Pragmatic PE, shared by a PE row: the group's step count and, every step, each
    lane's offset (its highest remaining one bit).

    Ports: ``weights`` In(:meth:`PragmaticPE.weights_layout`), the offered group; ``load`` In(1) (register
    it), ``active`` In(1) (a step executes: the offsets used are cleared); ``n_steps``
    Out: ``max_i popcount(|w_i|)`` of the offered group (0 = all zero, the sequencer runs one step);
    ``terms`` Out(``ArrayLayout(term_layout(B-2), pe_length)``): lane ``i``'s ``{pos: offset, valid: a
    one bit is left, sign}`` of the registered group (a popcount per lane and a max tree on the offered
    weights; a magnitude register, a leading-one detector and the sign per lane). Latency: the terms of
    a group are there from the cycle after ``load``; each ``active`` cycle advances them.
    """

    def __init__(self, config: PragmaticConfig):
        self.config = config
        n = config.pe_length
        super().__init__({
            "weights": In(PragmaticPE.weights_layout(config)), "load": In(1), "active": In(1),
            "n_steps": Out(unsigned_width(config.max_cycles_per_pass)),
            "terms": Out(data.ArrayLayout(term_layout(config.bits - 2), n)),
        })

    def elaborate(self, platform):
        m = Module()
        n, mw = self.config.pe_length, self.config.bits - 1
        counts = []
        for i in range(n):
            pc = Popcount(mw)
            m.submodules[f"popcount{i}"] = pc
            m.d.comb += pc.data.eq(self.weights[i].mag)
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
        m.d.comb += self.n_steps.eq(counts[0])

        mag = [Signal(mw, name=f"mag{i}") for i in range(n)]
        sign = [Signal(name=f"sign{i}") for i in range(n)]
        lods = []
        for i in range(n):
            m.submodules[f"lod{i}"] = lod = LeadingOneDetector(mw)
            m.d.comb += [lod.data.eq(mag[i]), self.terms[i].valid.eq(lod.valid), self.terms[i].sign.eq(sign[i])]
            if mw > 1:
                m.d.comb += self.terms[i].pos.eq(lod.index)
            lods.append(lod)
        with m.If(self.load):
            m.d.sync += [mag[i].eq(self.weights[i].mag) for i in range(n)]
            m.d.sync += [sign[i].eq(self.weights[i].sign) for i in range(n)]
        with m.Elif(self.active):
            for i in range(n):                     # the offset just used is done
                m.d.sync += mag[i].bit_select(lods[i].index, 1).eq(0)
        return m
