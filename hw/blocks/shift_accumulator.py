"""Bit-serial shift-accumulator: the accumulate step of every bit-serial PE.

Two forms (``mode``):

* ``"shift_add"``: ``acc <- acc + (+/- x << k)``, the form of BitVert (column sum shifted by the column
  index), Pragmatic and Bit-balance (activation shifted by an essential-bit position):
  docs/bbs.md, docs/bitbalance.md.
* ``"double_add"``: ``acc <- 2*acc + (+/- x)``, the Stripes form (weight bit columns MSB first), docs/baselines.md.

``start`` makes the step discard the old accumulator (the first term of a new dot product), so a PE
never spends a cycle on clearing. ``negate`` is the sign of the term (the MSB column of two's complement,
or a sign-magnitude sign). The accumulator width is derived from the configuration's worst case
(:func:`golden.primitives.shift_accumulator_width`): at most ``steps`` terms since the last ``start``,
``k <= max_shift``, including the negated most negative ``x``; within that contract it never overflows.

Golden function: :func:`golden.primitives.shift_accumulate`. Latency 1 (the accumulator register),
one term per cycle.
"""

from amaranth.hdl import Module, Mux, Signal, signed
from hw.base import Component
from amaranth.lib.wiring import In, Out

from golden.bits import unsigned_width
from golden.check import check_choice, check_int
from golden.primitives import SHIFT_ACC_MODES, shift_accumulator_width

__all__ = ["ShiftAccumulator"]


class ShiftAccumulator(Component):
    """Shift-accumulator.

    Parameters
    ----------
    x_width : int
        Width of the signed term input, 1..48.
    steps : int
        Most terms accumulated between two ``start`` s (the worst case the width is derived for).
    mode : "shift_add" or "double_add"
    max_shift : int
        Largest ``shift`` (``shift_add`` only; must be 0 for ``double_add``).

    Attributes
    ----------
    x : In(signed(x_width))
    negate : In(1)
        Accumulate ``-x`` instead of ``x``.
    shift : In(unsigned_width(max_shift))
        Only with ``mode="shift_add"`` and ``max_shift > 0``.
    en : In(1)
        Accumulate this cycle.
    start : In(1)
        With ``en``: this term starts a new accumulation (the old value is dropped).
    acc : Out(signed(acc_width))
        The accumulator register.
    """

    latency = 1

    def __init__(self, x_width: int, steps: int, mode: str = "shift_add", max_shift: int = 0):
        self.x_width = check_int("x_width", x_width, lo=1, hi=48)
        self.steps = check_int("steps", steps, lo=1, hi=1024)
        self.mode = check_choice("mode", mode, SHIFT_ACC_MODES)
        self.max_shift = check_int("max_shift", max_shift, lo=0, hi=48)
        self.acc_width = shift_accumulator_width(x_width=self.x_width, steps=self.steps, mode=self.mode,
                                                 max_shift=self.max_shift)
        ports = {"x": In(signed(self.x_width)), "negate": In(1), "en": In(1), "start": In(1),
                 "acc": Out(signed(self.acc_width))}
        if self.mode == "shift_add" and self.max_shift > 0:
            ports["shift"] = In(unsigned_width(self.max_shift))
        super().__init__(ports)

    def elaborate(self, platform):
        m = Module()
        term = Signal(signed(self.x_width + 1))
        m.d.comb += term.eq(Mux(self.negate, -self.x, self.x))
        if self.mode == "shift_add":
            shifted = Signal(signed(self.x_width + 1 + self.max_shift))
            m.d.comb += shifted.eq(term << self.shift if self.max_shift else term)
            base = Mux(self.start, 0, self.acc)
        else:
            shifted = term
            base = Mux(self.start, 0, self.acc) << 1
        with m.If(self.en):
            m.d.sync += self.acc.eq(base + shifted)
        return m
