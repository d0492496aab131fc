"""BBS scheduler: one compressed BBS group (one PE pass) -> the BitVert PE's per-cycle controls.

docs/bbs.md (BitVert scheduler; paper Fig. 8, RTL ``scheduler_bitvert.v``). One scheduler per PE row in
an array, its outputs broadcast to the row's PEs. Built from a :class:`golden.bbs.BBSConfig` (``B``,
``N``, ``G_pe = pe_length``, ``Gs = subgroup``; the hardware adds ``subgroup <= 16``).

Input ``group`` (:meth:`BBSScheduler.weights_layout`, the ``weights`` field of the BitVert payload):
``columns[B]`` (the pass's ``pe_length`` bits of every live column word, MSB first, unused slots 0),
``meta`` (``r << 6 | constant field``), ``sensitive``, ``signed_const``. ``load`` registers it (its
steps are on ``n_steps``: ``B`` if sensitive else ``B - N``); ``advance`` moves to the next column
(``load`` wins). Outputs describe the current live column, from the cycle after ``load``/``advance``:
``invert[s]``, ``sel``/``valid``/``sel_onehot[s][j]`` per sub-column (:class:`BBSColumnDecoder`),
``col_idx`` (``B-1-r`` first, one less per step), ``is_msb`` (the sign column), ``const_digit`` /
``const_shift`` (``C = 8*hi + lo``: ``hi << 3`` first, ``lo`` second, 0 after and when sensitive).
Every output is a register: latency 0 counted in clock edges, one column per cycle. Contract: ``r <= N``.

Choice: the column decoders work one column ahead (the decoder chain and the PE datapath: different cycles).
Choice: ``signed_const`` is a per-group flag, so one PE serves RA and ZPS.
Choice: columns 1..B-1 wait in a shift register (no B:1 column mux); ``sel_onehot`` feeds AND-OR window muxes.
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
from golden.primitives import bbs_sel_width
from hw.base import Component
from hw.bitvert.column_decoder import MAX_SUBGROUP, BBSColumnDecoder
from hw.pe import check_config

__all__ = ["BBSScheduler"]


class BBSScheduler(Component):
    """Per-row BitVert scheduler for one PE pass of a BBS group, built from a :class:`~golden.bbs.BBSConfig`.

    Hardware limit: ``subgroup <= 16`` (:class:`BBSColumnDecoder`'s); ``BBSConfig`` checks the rest.

    Attributes
    ----------
    group : In(weights_layout(config))
    load, advance : In(1)
    n_steps : Out(unsigned_width(bits))
        Steps of the group on ``group`` (combinational): ``bits`` if sensitive else ``bits - pruned``.
    invert : Out(1).array(S)
        ``S = pe_length // subgroup`` sub-columns.
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

    config_class = BBSConfig
    hw_limits = {"subgroup": (2, MAX_SUBGROUP)}     # even and pe_length: BBSConfig checks them
    latency = 0

    def __init__(self, config: BBSConfig):
        self.config = cfg = check_config(type(self), config)     # the check BitVertPE makes too
        self.subcolumns = cfg.pe_length // cfg.subgroup
        half = cfg.subgroup // 2
        super().__init__({
            "group": In(self.weights_layout(cfg)),
            "load": In(1),
            "advance": In(1),
            "n_steps": Out(unsigned_width(cfg.bits)),
            "invert": Out(1).array(self.subcolumns),
            "sel": Out(bbs_sel_width(cfg.subgroup)).array(self.subcolumns, half),
            "valid": Out(1).array(self.subcolumns, half),
            "sel_onehot": Out(half + 1).array(self.subcolumns, half),
            "col_idx": Out(unsigned_width(cfg.bits - 1)),
            "is_msb": Out(1),
            "const_digit": Out(signed(DIGIT_BITS + 1)),
            "const_shift": Out(1),
        })

    @classmethod
    def weights_layout(cls, config: BBSConfig) -> data.StructLayout:
        """The encoded group of one PE pass (module docstring)."""
        return data.StructLayout({
            "columns": data.ArrayLayout(unsigned(config.pe_length), config.bits),
            "meta": unsigned(8),
            "sensitive": unsigned(1),
            "signed_const": unsigned(1),
        })

    def elaborate(self, platform):
        m = Module()
        cfg = self.config
        B, N, lanes, gs, half = cfg.bits, cfg.pruned, cfg.pe_length, cfg.subgroup, cfg.subgroup // 2
        g = self.group
        # nxt[j] = the column j + 1 steps after the current one (the current one is already decoded)
        nxt = [Signal(lanes, name=f"next_col{j}") for j in range(B - 1)]
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
        to_decode = Signal(lanes)
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
