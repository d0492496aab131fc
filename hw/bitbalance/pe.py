"""Bit-balance PE: sparse bit-serial dot product in exactly ``k`` steps, ``k`` chosen per group at run time
(Bit-balance, Sun et al., arXiv 2302.00201; docs/bitbalance.md; golden model :mod:`golden.bitbalance`).

Per input transaction, the exact dot product :func:`golden.bitbalance.dot` of ``pe_length`` encoded
weights (a sign and ``k_max`` = ``config.k`` slots ``(valid, pos)``, MSB first, used slots first:
:func:`golden.bitbalance.encode`) with ``pe_length`` activations. All lanes run in lock step: in step
``c`` lane ``i`` takes slot ``c`` of its weight and contributes ``valid ? ±(x_i << pos) : 0`` (a barrel
shifter, a negation, an AND), an adder tree sums the lanes and the accumulator adds the sum; the partial
sums are :func:`golden.bitbalance.cycle_partial_sums`.

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
from amaranth.lib.wiring import Out

from golden import bitbalance
from golden.bitbalance import BitBalanceConfig
from golden.bits import product_range, signed_width, twos_range, unsigned_width
from golden.check import check_int_array
from hw.blocks.adder_tree import AdderTree
from hw.blocks.barrel_shifter import BarrelShifter
from hw.pe import PE

__all__ = ["BitBalancePE"]


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
    def term_width(self) -> int:
        """Signed width of one lane's slot term ``±(x << pos)``, ``0 <= pos <= bits-2``."""
        top = 1 << (self.config.bits - 2)
        return signed_width(*product_range(twos_range(self.config.act_bits), (-top, top)))

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

    def elaborate(self, platform):
        m = Module()
        cfg = self.config
        n, K, B = cfg.pe_length, cfg.k, cfg.bits
        k_in = self.i.payload.weights.k
        n_steps = k_in if (1 << len(k_in)) - 1 <= K else Mux(k_in > K, K, k_in)    # k > k_max: k_max steps
        seq = self.add_sequencer(m, self.max_steps, n_steps)
        code = self.code_layout(cfg)
        creg = [Signal(code, name=f"w{i}") for i in range(n)]
        areg = [Signal(signed(cfg.act_bits), name=f"a{i}") for i in range(n)]
        with m.If(seq.load):
            m.d.sync += [creg[i].eq(self.i.payload.weights.codes[i]) for i in range(n)]
            m.d.sync += [areg[i].eq(self.i.payload.acts[i]) for i in range(n)]
        with m.Elif(seq.active):                      # next slot to position 0
            for i in range(n):
                m.d.sync += [creg[i].slots[j].eq(creg[i].slots[j + 1]) for j in range(K - 1)]
                m.d.sync += creg[i].slots[K - 1].eq(0)

        tw = self.term_width
        m.submodules.tree = tree = AdderTree(n, tw)
        bad_pos, left_over = [], []
        pos_spare = (1 << cfg.pos_width) - 1 > B - 2
        for i in range(n):
            cur = creg[i].slots[0]
            if B > 2:
                m.submodules[f"shifter{i}"] = sh = BarrelShifter(cfg.act_bits, B - 2, "left", arithmetic=True)
                m.d.comb += [sh.data.eq(areg[i]), sh.amount.eq(cur.pos)]
                shifted = sh.result.as_signed()
            else:
                shifted = areg[i]
            term = Signal(signed(tw), name=f"term{i}")
            m.d.comb += [term.eq(Mux(cur.valid, Mux(creg[i].sign, -shifted, shifted), 0)), tree.x[i].eq(term)]
            if pos_spare:
                bad_pos.append(cur.valid & (cur.pos > B - 2))
            left_over += [creg[i].slots[j].valid for j in range(1, K)]

        acc = Signal(signed(cfg.acc_width))
        acc_next = Signal(signed(cfg.acc_width))
        m.d.comb += acc_next.eq(Mux(seq.step == 0, 0, acc) + tree.sum)
        # error of the group so far (bad positions in the steps done), and at its end the unconsumed slots
        gerr = Signal()
        gerr_next = Signal()
        m.d.comb += gerr_next.eq(Mux(seq.step == 0, 0, gerr) | _or_all(bad_pos))
        with m.If(seq.active):
            m.d.sync += [acc.eq(acc_next), gerr.eq(gerr_next)]
        with m.If(seq.last):
            m.d.sync += [self.o.payload.eq(acc_next),
                         self.weight_error.eq(self.weight_error | gerr_next | _or_all(left_over))]
        with m.If(self.clear):
            m.d.sync += self.weight_error.eq(0)
        return m


def _or_all(values):
    """OR of 1-bit values (one reduction, not a chain of ORs); 0 for none."""
    return Cat(*values).any() if values else Const(0, 1)
