"""Stripes PE: dense bit-serial dot product, B cycles per group (the baseline of every bit-serial paper).

``pe_length`` (G_pe) B-bit two's-complement weights are processed one bit column per cycle, MSB first
(docs/baselines.md; golden model :func:`golden.baselines.stripes_cycle_sums`): the column selects the
activations at its one bits, an adder tree sums them, the sign column is negated, and the accumulator
does ``acc <- 2*acc +/- colsum``. The weights sit in per-lane shift registers (the column is always the
top bit, no B:1 mux). Exactly ``B`` cycles per group whatever the values.

Built from a :class:`golden.baselines.DenseConfig` (``bits``, ``pe_length`` lanes, ``act_bits``).
Ports: the PE contract of :mod:`hw.pe`; the ``weights`` payload is ``ArrayLayout(signed(B), pe_length)``.
Accumulator and result width: ``DenseConfig.acc_width`` (the exact range of one group's dot product,
which also bounds every partial sum). Latency ``B + 1`` from acceptance, one group every ``B`` cycles.
"""

from amaranth.hdl import Module, Mux, Signal, signed

from hw.baselines.dense import DensePE
from hw.blocks.adder_tree import AdderTree

__all__ = ["StripesPE"]


class StripesPE(DensePE):
    """Stripes bit-serial PE, built from a :class:`~golden.baselines.DenseConfig` (payload and limits of
    :class:`~hw.baselines.dense.DensePE`). Ports: :mod:`hw.pe`. ``max_steps`` = B.
    """

    @property
    def max_steps(self) -> int:
        return self.config.bits

    def elaborate(self, platform):
        m = Module()
        cfg = self.config
        B, n = cfg.bits, cfg.pe_length
        seq = self.add_sequencer(m, B, B)
        m.submodules.tree = tree = AdderTree(n, cfg.act_bits)
        wreg = [Signal(B, name=f"w{i}") for i in range(n)]
        areg = [Signal(signed(cfg.act_bits), name=f"a{i}") for i in range(n)]
        with m.If(seq.load):
            m.d.sync += [wreg[i].eq(self.i.payload.weights[i]) for i in range(n)]
            m.d.sync += [areg[i].eq(self.i.payload.acts[i]) for i in range(n)]
        with m.Elif(seq.active):
            m.d.sync += [wreg[i].eq(wreg[i] << 1) for i in range(n)]        # next column to the top
        m.d.comb += [tree.x[i].eq(Mux(wreg[i][B - 1], areg[i], 0)) for i in range(n)]
        acc = Signal(signed(cfg.acc_width))
        acc_next = Signal(signed(cfg.acc_width))
        m.d.comb += acc_next.eq((Mux(seq.step == 0, 0, acc) << 1)
                                + Mux(seq.step == 0, -tree.sum, tree.sum))   # step 0 is the sign column
        with m.If(seq.active):
            m.d.sync += acc.eq(acc_next)
        with m.If(seq.last):
            m.d.sync += self.o.payload.eq(acc_next)
        return m
