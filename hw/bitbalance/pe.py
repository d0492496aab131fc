"""Bit-balance PE: sparse bit-serial dot product in exactly ``k`` steps, ``k`` chosen per group at run time
(Bit-balance, Sun et al., arXiv 2302.00201; docs/bitbalance.md; golden model :mod:`golden.bitbalance`).

Per input transaction, the exact dot product :func:`golden.bitbalance.dot` of ``pe_length`` encoded
weights (a sign and ``k_max`` = ``config.k`` slots ``(valid, pos)``, MSB first, used slots first:
:func:`golden.bitbalance.encode`) with ``pe_length`` activations. All lanes run in lock step: in step
``c`` lane ``i`` takes slot ``c`` of its weight and contributes ``valid ? ±(x_i << pos) : 0`` (a negation,
a barrel shifter, an AND), an adder tree sums the lanes and the accumulator adds the sum; the partial
sums are :func:`golden.bitbalance.cycle_partial_sums`. Two parts, so that a PE row shares the weight
side (:class:`hw.array.shared_grid.RowSharedGrid`, docs/array.md): :class:`BitBalancePositions` (the
slot registers, ``k``, the error terms) and :class:`~hw.blocks.shift_add_datapath.ShiftAddDatapath`
(lanes, tree, accumulator).

Built from a :class:`golden.bitbalance.BitBalanceConfig`. Ports: :mod:`hw.pe` plus ``weight_error :
Out(1)``, sticky until ``clear``/reset. The ``weights`` payload is ``{codes, k}``: ``pe_length`` codes, each
bit for bit the :func:`golden.bitbalance.pack` word, and the group's run-time ``k`` (:meth:`payloads`).
Timing: ``k`` steps per group: back to back one group every ``k`` cycles, each result valid ``k + 1``
cycles after its acceptance (latency 1).

Choice: the run-time ``k`` is a payload field, so it may change from one group to the next, with no idle cycle.
Choice: a narrower weight width needs no hardware (its codes are a subset): only ``k`` varies at run time.
Choice: ``k = 0`` runs one step and ``k > k_max`` runs ``k_max`` steps, so the PE never hangs.
Choice: ``weight_error`` flags a slot left after ``k`` steps (result: that partial sum) or a used ``pos > B-2``.
Choice: slots sit in per-lane shift registers (the current slot is always slot 0: no ``k_max``:1 mux).
Choice: the accumulator adds the tree sum, ``acc_width`` bits (every partial sum lies in the final range).
"""

import numpy as np
from amaranth.hdl import Cat, Const, Module, Mux, Signal, signed, unsigned
from amaranth.lib import data
from amaranth.lib.wiring import In, Out

from golden import bitbalance
from golden.bitbalance import BitBalanceConfig
from golden.bits import unsigned_width
from golden.check import check_int_array
from hw.base import Component
from hw.blocks.shift_add_datapath import ShiftAddDatapath, term_layout
from hw.pe import PE

__all__ = ["BitBalancePE", "BitBalancePositions"]


class BitBalancePE(PE):
    """Bit-balance processing element, built from a :class:`~golden.bitbalance.BitBalanceConfig` (see the
    module docstring). Hardware limits: ``pe_length`` 1..64, ``act_bits`` 2..16. ``max_steps`` = ``k``.
    """

    config_class = BitBalanceConfig
    hw_limits = {"pe_length": (1, 64), "act_bits": (2, 16)}
    field_meanings = {
        "weights.codes[i].slots[j].pos": "position of the j-th one-bit (MSB first) of lane i's weight magnitude",
        "weights.codes[i].slots[j].valid": "slot j of lane i's weight holds a one-bit (used slots first)",
        "weights.codes[i].sign": "sign of lane i's weight (1 = negative)",
        "weights.k": "run-time k of the group: its steps, 1..k_max",
        "acts[i]": "activation of lane i, two's complement",
    }

    def __init__(self, config):
        super().__init__(config, {"weight_error": Out(1)})

    # -- shapes ------------------------------------------------------------------------------------

    @staticmethod
    def code_layout(config) -> data.StructLayout:
        """One weight: the :func:`golden.bitbalance.pack` word as a struct (slots LSB first, sign on top)."""
        slot = data.StructLayout({"pos": unsigned(config.pos_width), "valid": 1})
        return data.StructLayout({"slots": data.ArrayLayout(slot, config.k), "sign": 1})

    @classmethod
    def weights_layout(cls, config) -> data.StructLayout:
        """The ``weights`` payload: ``pe_length`` codes and the run-time ``k`` of the group."""
        return data.StructLayout({"codes": data.ArrayLayout(cls.code_layout(config), config.pe_length),
                                  "k": unsigned(unsigned_width(config.k))})

    @property
    def max_steps(self) -> int:
        """Most steps per group: ``k_max`` (each group's run-time ``k`` is at most this)."""
        return self.config.cycles_per_group

    # -- the payload API ---------------------------------------------------------------------------

    def encode_weights(self, weights) -> dict:
        """One group's ``pe_length`` weights (at most ``k_max`` one-bits each) as ``{"codes", "k"}`` with
        ``k = k_max`` (:meth:`payloads` sets each group's own)."""
        cfg = self.config
        w = np.asarray(weights)
        if w.shape != (cfg.pe_length,):
            raise ValueError(f"a group's weights must have shape ({cfg.pe_length},) (pe_length lanes), "
                             f"got {w.shape}")
        c = bitbalance.encode(w, bits=cfg.bits, k=cfg.k)
        codes = [{"sign": int(s), "slots": [{"pos": int(p), "valid": int(v)} for p, v in zip(ps, vs)]}
                 for s, ps, vs in zip(c.sign, c.pos, c.valid)]
        return {"codes": codes, "k": cfg.k}

    def payloads(self, weights, acts, k=None) -> list[dict]:
        """One transaction per group: ``weights`` and ``acts`` are ``[groups, pe_length]`` integers; ``k``
        (``1..k_max``) is one run-time budget for all groups or one per group, default ``config.k``. A group
        whose weights have more one-bits than its ``k`` is computed on its first ``k`` slots and raises
        ``weight_error``."""
        out = super().payloads(weights, acts)
        ks = check_int_array("k", self.config.k if k is None else k, lo=1, hi=self.config.k, ndim=(0, 1))
        if ks.ndim == 1 and len(ks) != len(out):
            raise ValueError(f"k must be one integer or one per group ({len(out)}), got {len(ks)}")
        for p, kk in zip(out, np.broadcast_to(ks, (len(out),))):
            p["weights"]["k"] = int(kk)
        return out

    # -- gateware ----------------------------------------------------------------------------------

    def row_unit(self) -> "BitBalancePositions":
        """The weight side of this PE: what a PE row shares (:class:`BitBalancePositions`)."""
        return BitBalancePositions(self.config)

    def datapath(self, tile_acc_width: int | None = None) -> ShiftAddDatapath:
        """The activation side: ``pe_length`` lanes of ``±(x << pos)``, tree and accumulator
        (:class:`~hw.blocks.shift_add_datapath.ShiftAddDatapath`; ``tile_acc_width``: its array variant)."""
        cfg = self.config
        return ShiftAddDatapath(cfg.pe_length, cfg.act_bits, cfg.bits - 2, cfg.acc_width, tile_acc_width)

    def elaborate(self, platform):
        m = Module()
        m.submodules.positions = pos = self.row_unit()
        m.submodules.datapath = dp = self.datapath()
        seq = self.add_sequencer(m, self.max_steps, pos.n_steps)
        acts = Signal.like(self.i.payload.acts)
        with m.If(seq.load):
            m.d.sync += acts.eq(self.i.payload.acts)
        m.d.comb += [pos.weights.eq(self.i.payload.weights), pos.load.eq(seq.load), pos.active.eq(seq.active),
                     dp.acts.eq(acts), dp.terms.eq(pos.terms), dp.active.eq(seq.active),
                     dp.first.eq(seq.step == 0)]
        # error of the group so far (bad positions in the steps done), and at its end the unconsumed slots
        gerr = Signal()
        gerr_next = Signal()
        m.d.comb += gerr_next.eq(Mux(seq.step == 0, 0, gerr) | pos.bad_pos)
        with m.If(seq.active):
            m.d.sync += gerr.eq(gerr_next)
        with m.If(seq.last):
            m.d.sync += [self.o.payload.eq(dp.acc_next),
                         self.weight_error.eq(self.weight_error | gerr_next | pos.left_over)]
        with m.If(self.clear):
            m.d.sync += self.weight_error.eq(0)
        return m


class BitBalancePositions(Component):
    """The weight side of a Bit-balance PE, shared by a PE row: the group's step count and, every step,
    each lane's current slot.

    Ports: ``weights`` In(:meth:`BitBalancePE.weights_layout`), the offered group; ``load`` In(1) (register
    it), ``active`` In(1) (a step executes: every lane's next slot moves to position 0); ``n_steps`` Out:
    the offered group's ``k`` (``k > k_max`` runs ``k_max``); ``terms``
    Out(``ArrayLayout(term_layout(B-2), pe_length)``): lane ``i``'s ``{pos, valid, sign}`` of its slot 0;
    ``bad_pos`` Out(1): a valid slot 0 with ``pos > B-2``; ``left_over`` Out(1): a valid slot behind slot
    0 (at a group's last step: a slot that ``k`` steps leave unconsumed). Per lane a shift register of
    the ``k_max`` slots (the current slot is always slot 0: no ``k_max``:1 mux). Latency: the terms of a
    group are there from the cycle after ``load``; each ``active`` cycle advances them.
    """

    def __init__(self, config: BitBalanceConfig):
        self.config = config
        super().__init__({
            "weights": In(BitBalancePE.weights_layout(config)), "load": In(1), "active": In(1),
            "n_steps": Out(unsigned_width(config.cycles_per_group)),
            "terms": Out(data.ArrayLayout(term_layout(config.bits - 2), config.pe_length)),
            "bad_pos": Out(1), "left_over": Out(1),
        })

    def elaborate(self, platform):
        m = Module()
        cfg = self.config
        n, K, B = cfg.pe_length, cfg.k, cfg.bits
        k_in = self.weights.k
        m.d.comb += self.n_steps.eq(k_in if (1 << len(k_in)) - 1 <= K else Mux(k_in > K, K, k_in))
        code = BitBalancePE.code_layout(cfg)
        creg = [Signal(code, name=f"w{i}") for i in range(n)]
        with m.If(self.load):
            m.d.sync += [creg[i].eq(self.weights.codes[i]) for i in range(n)]
        with m.Elif(self.active):                      # next slot to position 0
            for i in range(n):
                m.d.sync += [creg[i].slots[j].eq(creg[i].slots[j + 1]) for j in range(K - 1)]
                m.d.sync += creg[i].slots[K - 1].eq(0)
        bad_pos, left_over = [], []
        pos_spare = (1 << cfg.pos_width) - 1 > B - 2
        for i in range(n):
            cur = creg[i].slots[0]
            m.d.comb += [self.terms[i].valid.eq(cur.valid), self.terms[i].sign.eq(creg[i].sign)]
            if B > 2:
                m.d.comb += self.terms[i].pos.eq(cur.pos)
            if pos_spare:
                bad_pos.append(cur.valid & (cur.pos > B - 2))
            left_over += [creg[i].slots[j].valid for j in range(1, K)]
        m.d.comb += [self.bad_pos.eq(_or_all(bad_pos)), self.left_over.eq(_or_all(left_over))]
        return m


def _or_all(values):
    """OR of 1-bit values (one reduction, not a chain of ORs); 0 for none."""
    return Cat(*values).any() if values else Const(0, 1)
