"""Bit-balance PE: sparse bit-serial dot product, exactly ``k`` cycles per group, ``k`` set per group at run
time (docs/bitbalance.md; golden model :mod:`golden.bitbalance`).

What it computes: per input transaction the exact dot product :func:`golden.bitbalance.dot` of ``lanes``
(G_pe) encoded weights with ``lanes`` signed activations. Every weight is a sign plus ``k_max`` slots
``(valid, pos)`` (:func:`golden.bitbalance.encode`, MSB-first, used slots first). All lanes run in lock
step: in step ``c`` (``0..k-1``) lane ``i`` takes slot ``c`` of its weight and contributes
``valid ? ±(x_i << pos) : 0`` (a left arithmetic :class:`hw.blocks.barrel_shifter.BarrelShifter`, a negation and an
AND gate), an :class:`hw.blocks.adder_tree.AdderTree` sums the lanes and the accumulator adds the sum
(``acc <- (c == 0 ? 0 : acc) + tree``); the partial sums are :func:`golden.bitbalance.cycle_partial_sums`.

Latency / throughput: :class:`hw.pe.SerialSequencer` with ``n_steps = k`` of the group: registered
when accepted, ``k`` steps in the next ``k`` cycles, the next group accepted in the last step. A group
takes exactly ``k`` cycles (:func:`golden.cycles.group_cycles_bitbalance`), ``o.valid`` ``k + 1`` cycles
after acceptance.

Choices (the paper's PE is a reconstruction; docs/bitbalance.md):

* **Run-time k is a field of the input payload** (``weights.k``, ``unsigned_width(k_max)`` bits), not a
  configuration port: it travels with the data it belongs to, so a stream may change ``k`` from one group
  to the next (a layer boundary, or any group) with no idle cycle and no hazard; the sequencer samples it
  when it accepts the group. The generated ``k`` is the maximum ``k_max``; weights are always stored in the
  ``k_max``-slot format and a layer with ``k' < k_max`` simply leaves slots ``k'..k_max-1`` unused (codes
  from ``golden.bitbalance.encode(q, bits=B, k=k_max)``).
* **Run-time weight width needs no hardware**: a ``B' <= B``-bit layer's codes are a subset of the
  generated format (positions ``<= B'-2``), so only ``k`` is a run-time field; the same holds for narrower
  activations (sign-extended into ``act_bits``). The "adaptive bitwidth" of the paper is therefore the
  per-group ``k``.
* ``k`` outside ``1..k_max``: 0 runs 1 step (the sequencer's rule), values above ``k_max`` (when the field
  has spare codes) run ``k_max`` steps; the PE never hangs.
* **Dropped or malformed slots are flagged, never silent**: the sticky output ``weight_error`` rises
  (together with the group's ``o.valid``) when a group ends with a valid slot it did not consume (a weight
  with more ones than the run-time ``k``; the result is then the partial sum after ``k`` steps,
  ``cycle_partial_sums(...)[k-1]``), or when a consumed valid slot has ``pos > B-2`` (not a code; that
  group's result is undefined). It stays high until ``clear``/reset.
* Slots sit in per-lane shift registers (the current slot is always slot 0; no ``k_max:1`` mux), as the
  weight columns of the Stripes PE.
* The accumulator is an adder on the tree sum, not :class:`hw.blocks.shift_accumulator.ShiftAccumulator`: the
  shift and sign are per lane (before the tree), and since all slots of a weight share its sign, every
  partial sum is bounded by the final worst case, so the accumulator and the result are exactly
  :attr:`golden.bitbalance.BitBalanceConfig.acc_width` bits (the primitive's generic bound
  would add ``log2(k)`` bits). Lane terms are ``signed_width(±(amin << (B-2)))`` bits.
* ``bits = 2``: the only position is 0, no shifter is generated.

Ports: :mod:`hw.pe` (``i``, ``o``, ``clear``, ``cycles``) plus ``weight_error : Out(1)``. The
``weights`` payload is ``StructLayout({"codes": ArrayLayout(code_layout, lanes), "k": unsigned_width(k_max)})``
with ``code_layout`` bit for bit the word of :func:`golden.bitbalance.pack` (slot ``j`` = ``pos`` then
``valid`` at bits ``[j*(P+1), (j+1)*(P+1))``, sign on top).
"""

from amaranth.hdl import Cat, Const, Module, Mux, Signal, signed, unsigned
from amaranth.lib import data
from amaranth.lib.wiring import Out

from golden.bitbalance import BitBalanceConfig
from golden.bits import signed_width, twos_range, unsigned_width
from golden.check import check_int
from hw.blocks.adder_tree import AdderTree
from hw.blocks.barrel_shifter import BarrelShifter
from hw.base import Component
from hw.pe import SerialSequencer, pe_ports

__all__ = ["BitBalancePE"]


class BitBalancePE(Component):
    """Bit-balance processing element (see the module docstring).

    Parameters
    ----------
    bits : int
        Largest weight width B (sign-magnitude), 2..16.
    k : int
        Largest one-bit budget ``k_max`` (slots per weight, most steps per group), ``1..bits-1``.
    lanes : int
        Dot-product length G_pe, 1..64.
    act_bits : int
        Signed activation width, 2..16.

    Attributes
    ----------
    i : In(stream.Signature(StructLayout({"weights": weights_layout(bits, k, lanes), "acts": ...})))
    o : Out(stream.Signature(signed(result_width)))
    clear : In(1)
    cycles : Out(32)
    weight_error : Out(1)
        Sticky: a group dropped a valid slot or used an invalid position (see the module docstring).
    """

    def __init__(self, bits: int = 8, k: int = 3, lanes: int = 16, act_bits: int = 8):
        check_int("lanes", lanes, lo=1, hi=64)
        check_int("act_bits", act_bits, lo=2, hi=16)
        self.config = BitBalanceConfig(bits=bits, k=k, pe_length=lanes, act_bits=act_bits)
        self.bits, self.k, self.lanes, self.act_bits = bits, k, lanes, act_bits
        self.result_width = self.config.acc_width
        ports = pe_ports(self.weights_layout(bits, k, lanes), lanes=lanes, act_bits=act_bits,
                         result_width=self.result_width)
        ports["weight_error"] = Out(1)
        super().__init__(ports)

    @staticmethod
    def code_layout(bits: int, k: int) -> data.StructLayout:
        """One weight: the :func:`golden.bitbalance.pack` word as a struct (slots LSB first, sign on top)."""
        cfg = BitBalanceConfig(bits=bits, k=k)
        slot = data.StructLayout({"pos": unsigned(cfg.pos_width), "valid": 1})
        return data.StructLayout({"slots": data.ArrayLayout(slot, k), "sign": 1})

    @staticmethod
    def weights_layout(bits: int, k: int, lanes: int) -> data.StructLayout:
        """The ``weights`` payload: ``lanes`` codes and the run-time ``k`` of the group."""
        return data.StructLayout({"codes": data.ArrayLayout(BitBalancePE.code_layout(bits, k), lanes),
                                  "k": unsigned(unsigned_width(k))})

    @staticmethod
    def term_width(bits: int, act_bits: int) -> int:
        """Signed width of one lane's slot term ``±(x << pos)``, ``pos <= bits-2``."""
        amin, _ = twos_range(act_bits)
        return signed_width(amin << (bits - 2), -amin << (bits - 2))

    @property
    def steps_per_group(self) -> int:
        """Most steps per group (the run-time ``k`` of each group is at most this)."""
        return self.config.cycles_per_group

    def elaborate(self, platform):
        m = Module()
        cfg, n, K, B = self.config, self.lanes, self.k, self.bits
        m.submodules.seq = seq = SerialSequencer(K)
        k_in = self.i.payload.weights.k
        n_steps = k_in if (1 << len(k_in)) - 1 <= K else Mux(k_in > K, K, k_in)
        m.d.comb += [
            seq.in_valid.eq(self.i.valid), seq.out_ready.eq(self.o.ready), seq.clear.eq(self.clear),
            seq.n_steps.eq(n_steps),
            self.i.ready.eq(seq.in_ready), self.o.valid.eq(seq.out_valid), self.cycles.eq(seq.cycles),
        ]
        code = self.code_layout(B, K)
        creg = [Signal(code, name=f"w{i}") for i in range(n)]
        areg = [Signal(signed(self.act_bits), name=f"a{i}") for i in range(n)]
        with m.If(seq.load):
            m.d.sync += [creg[i].eq(self.i.payload.weights.codes[i]) for i in range(n)]
            m.d.sync += [areg[i].eq(self.i.payload.acts[i]) for i in range(n)]
        with m.Elif(seq.active):                      # next slot to position 0
            for i in range(n):
                m.d.sync += [creg[i].slots[j].eq(creg[i].slots[j + 1]) for j in range(K - 1)]
                m.d.sync += creg[i].slots[K - 1].eq(0)

        tw = self.term_width(B, self.act_bits)
        m.submodules.tree = tree = AdderTree(n, tw)
        bad_pos, left_over = [], []
        pos_spare = (1 << cfg.pos_width) - 1 > B - 2
        for i in range(n):
            cur = creg[i].slots[0]
            if B > 2:
                m.submodules[f"shifter{i}"] = sh = BarrelShifter(self.act_bits, B - 2, "left", arithmetic=True)
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
    """OR of 1-bit values (one reduction, not a chain of thousands of operators)."""
    return Cat(*values).any() if values else Const(0, 1)
