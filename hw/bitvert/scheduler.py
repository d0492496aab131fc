"""BBS scheduler: one compressed BBS group (one PE pass) -> the BitVert PE's per-cycle controls.

docs/bbs.md, scheduler (paper Fig. 8, RTL ``scheduler_bitvert.v``): one scheduler per weight channel (a PE row),
its outputs broadcast to every PE of the row (the PEs differ only in their activations). Each cycle it
presents one live weight column, MSB first, and says how the PE must use it:

* per ``Gs``-bit sub-column ``s``: ``invert[s]`` and the ``Gs/2`` lane selects ``sel[s][j]`` / ``valid[s][j]``
  of a :class:`~hw.bitvert.column_decoder.BBSColumnDecoder` (``invert = popcount > Gs/2``; lane ``j`` picks
  activation ``j + sel`` of the sub-group, golden :func:`golden.primitives.bbs_column_decode`);
* ``col_idx``: the significance of the column, ``B-1-r`` in the first cycle (``r`` = redundant columns,
  metadata bits 7..6; 0 for a sensitive group) and one less every cycle;
* ``is_msb``: first live column = the sign column (the PE negates it) = the first step of the pass (the
  PE starts a new accumulation);
* ``const_digit`` / ``const_shift``: the time-multiplexed BBS constant, ``C = 8*hi + lo``
  (:func:`golden.bitvert.constant_digits`): ``hi`` with ``const_shift = 1`` (``<< 3``) in the first cycle,
  ``lo`` in the second, 0 afterwards and for sensitive groups. ``hi`` is signed when the group's
  ``signed_const`` flag is set (ZPS: two's-complement field), unsigned otherwise (RA); a 4-bit signed
  output holds both.

Input (``group``, the ``weights`` payload of :class:`~hw.bitvert.pe.BitVertPE`), :meth:`weights_layout`:

``columns`` : ``ArrayLayout(unsigned(lanes), B)``
    The group's live column words restricted to this pass's ``lanes`` (G_pe) weights, MSB first
    (``columns[0]`` = sign column); bit ``i`` = weight ``i`` of the pass. ``B - N`` live words for a pruned
    group, ``B`` for a sensitive one; unused slots 0 (golden :func:`golden.bbs.encode` words).
``meta`` : ``unsigned(8)``
    The metadata byte (``r << 6 | constant field``), shared by every pass of a group; ignored when sensitive.
``sensitive`` : ``unsigned(1)``
    INT-B group: ``B`` columns from position ``B-1``, no constant.
``signed_const`` : ``unsigned(1)``
    The constant field is two's complement (ZPS, ``BBSEncoded.kind == "zps"``), else unsigned (RA). Choice: a
    per-group flag (the format stores the kind once per tensor); one flip-flop, and one PE serves both
    pruning methods.

Control: ``load`` registers ``group`` (the step counts of the offered group are on ``n_steps``:
``B`` if sensitive else ``B - N``, for :class:`~hw.pe.SerialSequencer`); ``advance`` moves to the next
column (``load`` wins when both are set). The outputs describe the current column from the cycle after
``load`` / ``advance`` on, and hold while neither is set. Contract: ``r <= N`` (what
:func:`golden.bbs.encode` and :func:`golden.bbs.from_bytes` guarantee), so ``col_idx`` stays
``>= N - r >= 0`` over the ``B - N`` steps.

Implementation: every output is a register (or, for ``sel`` / ``valid``, a few gates re-encoding the
registered ``sel_onehot``). The column decoders work one column ahead: in the ``load`` cycle they
decode the offered group's first column (combinationally from ``group``, which in an array comes from
registers) and the decisions are registered with the group; in an ``advance`` cycle they decode the next
column while the PE accumulates the current one. Choice: so the decoder chain (popcount -> invert -> the
chain of priority encoders) and the PE's datapath (window muxes -> adder trees -> shifter ->
accumulator) are in different clock cycles (before: one path, 8.9 MHz iCE40 UP5K / 31.9 MHz ECP5 for the
default PE) without changing the PE's cycle behaviour: the registered decisions are the same values the
combinational decoder gave one cycle earlier (latency 0 from ``load`` / ``advance`` to the outputs,
counted in clock edges, as before). One decoder per sub-column, its input muxed between the offered
group's column 0 and the next column of the current group (``load`` selects). The remaining column words
(columns 1 .. B-1) sit in a shift register (slot 0 = the next column), so no B:1 column mux.
``sel_onehot`` (lane ``j`` takes activation ``j + k`` of the sub-group iff bit ``k`` is set; 0 = idle)
is what the PE's window muxes use: an AND-OR mux, shallower than a binary-select mux gated by ``valid``.
State: ``(B - 1) * lanes`` column bits, ``S * (1 + Gs/2 * (Gs/2 + 1))`` decision bits, ``col_idx``,
``is_msb``, 7 digit bits.
"""

from __future__ import annotations

import operator
from functools import reduce

from amaranth.hdl import Module, Mux, Signal, signed, unsigned
from amaranth.lib import data
from amaranth.lib.wiring import In, Out

from golden.bbs import BBSConfig
from golden.bits import unsigned_width
from golden.bitvert import DIGIT_BITS
from golden.check import check_int
from golden.primitives import bbs_sel_width
from hw.base import Component
from hw.bitvert.column_decoder import BBSColumnDecoder

__all__ = ["BBSScheduler", "bitvert_config"]

_MAX_SUBGROUP = 16         # the column decoder's limit (16 lanes of window priority encoders)


def bitvert_config(bits, pruned, lanes, subgroup, const_bits=6) -> BBSConfig:
    """Validate the parameters of a BitVert PE / scheduler; return the :class:`~golden.bbs.BBSConfig`."""
    subgroup = check_int("subgroup", subgroup, lo=2, hi=_MAX_SUBGROUP, extra="and even")
    if subgroup % 2:
        raise ValueError(f"subgroup must be an integer in [2, {_MAX_SUBGROUP}] and even, got {subgroup}")
    lanes = check_int("lanes", lanes, lo=subgroup, hi=64, extra=f"and a multiple of subgroup={subgroup}")
    if lanes % subgroup:
        raise ValueError(f"lanes must be an integer in [{subgroup}, 64] and a multiple of "
                         f"subgroup={subgroup}, got {lanes}")
    return BBSConfig(bits=bits, pruned=pruned, const_bits=const_bits, subgroup=subgroup, pe_length=lanes)


class BBSScheduler(Component):
    """Per-row BitVert scheduler for one PE pass of a BBS group.

    Parameters
    ----------
    bits : int
        B, 2..16.
    pruned : int
        N, 0..min(6, B-2).
    lanes : int
        G_pe, the weights of one pass, a multiple of ``subgroup``, up to 64.
    subgroup : int
        Gs, even, 2..16.

    Attributes
    ----------
    group : In(weights_layout(bits, lanes))
    load, advance : In(1)
    n_steps : Out(unsigned_width(bits))
        Steps of the group on ``group`` (combinational): ``bits`` if sensitive else ``bits - pruned``.
    invert : Out(1).array(S)
        ``S = lanes // subgroup`` sub-columns.
    sel : Out(bbs_sel_width(subgroup)).array(S, subgroup // 2)
    valid : Out(1).array(S, subgroup // 2)
    sel_onehot : Out(subgroup // 2 + 1).array(S, subgroup // 2)
        ``valid << sel`` (0 when not valid), the form the PE's window muxes use.
    col_idx : Out(unsigned_width(bits - 1))
    is_msb : Out(1)
    const_digit : Out(signed(DIGIT_BITS + 1))
    const_shift : Out(1)
        ``const_digit`` is the high digit (``<< DIGIT_BITS``); equal to ``is_msb``.
    """

    latency = 0

    def __init__(self, bits: int = 8, pruned: int = 2, lanes: int = 16, subgroup: int = 8):
        self.config = bitvert_config(bits, pruned, lanes, subgroup)
        self.bits, self.pruned, self.lanes, self.subgroup = bits, pruned, lanes, subgroup
        self.subcolumns = lanes // subgroup
        half = subgroup // 2
        super().__init__({
            "group": In(self.weights_layout(bits, lanes)),
            "load": In(1),
            "advance": In(1),
            "n_steps": Out(unsigned_width(bits)),
            "invert": Out(1).array(self.subcolumns),
            "sel": Out(bbs_sel_width(subgroup)).array(self.subcolumns, half),
            "valid": Out(1).array(self.subcolumns, half),
            "sel_onehot": Out(half + 1).array(self.subcolumns, half),
            "col_idx": Out(unsigned_width(bits - 1)),
            "is_msb": Out(1),
            "const_digit": Out(signed(DIGIT_BITS + 1)),
            "const_shift": Out(1),
        })

    @staticmethod
    def weights_layout(bits: int, lanes: int) -> data.StructLayout:
        """The encoded group of one PE pass (module docstring)."""
        return data.StructLayout({
            "columns": data.ArrayLayout(unsigned(lanes), bits),
            "meta": unsigned(8),
            "sensitive": unsigned(1),
            "signed_const": unsigned(1),
        })

    def elaborate(self, platform):
        m = Module()
        B, N, gs, half = self.bits, self.pruned, self.subgroup, self.subgroup // 2
        g = self.group
        # nxt[j] = the column j + 1 steps after the current one (the current one is already decoded)
        nxt = [Signal(self.lanes, name=f"next_col{j}") for j in range(B - 1)]
        digit_lo = Signal(DIGIT_BITS)                        # the second cycle's digit, waiting
        digit_now = Signal(signed(DIGIT_BITS + 1))
        col_idx = Signal.like(self.col_idx)
        is_msb = Signal()

        field = g.meta[:6]
        r = g.meta[6:8]
        hi_bits = field[DIGIT_BITS:2 * DIGIT_BITS]
        hi = Mux(g.signed_const, hi_bits.as_signed(), hi_bits)
        m.d.comb += self.n_steps.eq(Mux(g.sensitive, B, B - N))

        # one decoder per sub-column, on the column that becomes current at the next clock edge: the
        # offered group's first column when loading, else the next column of the group being executed
        to_decode = Signal(self.lanes)
        m.d.comb += to_decode.eq(Mux(self.load, g.columns[0], nxt[0]))
        decs = []
        for s in range(self.subcolumns):
            dec = BBSColumnDecoder(gs)
            m.submodules[f"decoder{s}"] = dec
            m.d.comb += dec.column.eq(to_decode[s * gs:(s + 1) * gs])
            decs.append(dec)

        onehot = [[Signal(half + 1, name=f"sub{s}_lane{j}_onehot") for j in range(half)]
                  for s in range(self.subcolumns)]
        invert = [Signal(name=f"sub{s}_invert") for s in range(self.subcolumns)]

        def register_decisions():
            for s, dec in enumerate(decs):
                m.d.sync += invert[s].eq(dec.invert)
                for j in range(half):
                    m.d.sync += onehot[s][j].eq(Mux(dec.valid[j], 1 << dec.sel[j], 0))

        # sel / valid re-encoded from the registered one-hot selects (they are the decoder's outputs,
        # one cycle later); a PE uses sel_onehot (an AND-OR window mux)
        for s in range(self.subcolumns):
            m.d.comb += self.invert[s].eq(invert[s])
            for j in range(half):
                oh = onehot[s][j]
                m.d.comb += [self.sel_onehot[s][j].eq(oh), self.valid[s][j].eq(oh.any()),
                             self.sel[s][j].eq(reduce(operator.or_, [Mux(oh[k], k, 0)
                                                                    for k in range(1, half + 1)]))]

        with m.If(self.load):
            register_decisions()
            m.d.sync += [nxt[j].eq(g.columns[j + 1]) for j in range(B - 1)]
            m.d.sync += [
                col_idx.eq(Mux(g.sensitive, B - 1, B - 1 - r)),
                is_msb.eq(1),
                digit_now.eq(Mux(g.sensitive, 0, hi)),
                digit_lo.eq(Mux(g.sensitive, 0, field[:DIGIT_BITS])),
            ]
        with m.Elif(self.advance):
            register_decisions()
            m.d.sync += [nxt[j].eq(nxt[j + 1]) for j in range(B - 2)]
            m.d.sync += [
                col_idx.eq(col_idx - 1),
                is_msb.eq(0),
                digit_now.eq(digit_lo),
                digit_lo.eq(0),
            ]
            m.d.sync += nxt[B - 2].eq(0)

        m.d.comb += [
            self.col_idx.eq(col_idx),
            self.is_msb.eq(is_msb),
            self.const_digit.eq(digit_now),
            self.const_shift.eq(is_msb),
        ]
        return m
