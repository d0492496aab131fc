"""Stripes PE: dense bit-serial dot product, B cycles per group (the baseline of every bit-serial paper).

``lanes`` (G_pe) B-bit two's-complement weights are processed one bit column per cycle, MSB first
(algorithms.md 6, golden model :func:`golden.baselines.stripes_cycle_sums`): the column selects the
activations at its one bits, an adder tree sums them, the sign column is negated, and the accumulator
does ``acc <- 2*acc +/- colsum``. The weights sit in per-lane shift registers (the column is always the
top bit, no B:1 mux). Exactly ``B`` cycles per group whatever the values.

Ports: the PE streaming contract of :mod:`hw.pe`; the ``weights`` payload is
``ArrayLayout(signed(B), lanes)``. Accumulator and result width: ``StripesConfig.acc_width`` (the exact
range of one group's dot product, which also bounds every partial sum).
"""

from amaranth.hdl import Module, Mux, Signal, signed
from amaranth.lib import data

from golden.baselines import StripesConfig
from golden.check import check_int
from hw.blocks.adder_tree import AdderTree
from hw.base import Component
from hw.pe import SerialSequencer, pe_ports

__all__ = ["StripesPE"]


class StripesPE(Component):
    """Stripes bit-serial PE.

    Parameters
    ----------
    bits : int
        Weight bits B (2..16).
    lanes : int
        Dot-product length G_pe (1..64).
    act_bits : int
        Activation bits (2..16).

    Ports: see :mod:`hw.pe`. ``steps_per_group`` = B.
    """

    def __init__(self, bits: int = 8, lanes: int = 16, act_bits: int = 8):
        check_int("lanes", lanes, lo=1, hi=64)
        check_int("act_bits", act_bits, lo=2, hi=16)
        self.config = StripesConfig(bits=bits, pe_length=lanes, act_bits=act_bits)
        self.bits, self.lanes, self.act_bits = bits, lanes, act_bits
        super().__init__(pe_ports(self.weights_layout(bits, lanes), lanes=lanes, act_bits=act_bits,
                                  result_width=self.config.acc_width))

    @staticmethod
    def weights_layout(bits: int, lanes: int):
        return data.ArrayLayout(signed(bits), lanes)

    @property
    def steps_per_group(self) -> int:
        return self.config.cycles_per_pass

    def elaborate(self, platform):
        m = Module()
        B, n = self.bits, self.lanes
        m.submodules.seq = seq = SerialSequencer(B)
        m.submodules.tree = tree = AdderTree(n, self.act_bits)
        m.d.comb += [
            seq.in_valid.eq(self.i.valid), seq.out_ready.eq(self.o.ready), seq.clear.eq(self.clear),
            seq.n_steps.eq(B),
            self.i.ready.eq(seq.in_ready), self.o.valid.eq(seq.out_valid), self.cycles.eq(seq.cycles),
        ]
        wreg = [Signal(B, name=f"w{i}") for i in range(n)]
        areg = [Signal(signed(self.act_bits), name=f"a{i}") for i in range(n)]
        with m.If(seq.load):
            m.d.sync += [wreg[i].eq(self.i.payload.weights[i]) for i in range(n)]
            m.d.sync += [areg[i].eq(self.i.payload.acts[i]) for i in range(n)]
        with m.Elif(seq.active):
            m.d.sync += [wreg[i].eq(wreg[i] << 1) for i in range(n)]        # next column to the top
        m.d.comb += [tree.x[i].eq(Mux(wreg[i][B - 1], areg[i], 0)) for i in range(n)]
        acc = Signal(signed(self.config.acc_width))
        acc_next = Signal(signed(self.config.acc_width))
        m.d.comb += acc_next.eq((Mux(seq.step == 0, 0, acc) << 1)
                                + Mux(seq.step == 0, -tree.sum, tree.sum))   # step 0 is the sign column
        with m.If(seq.active):
            m.d.sync += acc.eq(acc_next)
        with m.If(seq.last):
            m.d.sync += self.o.payload.eq(acc_next)
        return m
