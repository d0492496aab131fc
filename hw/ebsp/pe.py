"""EBSP PE: one multiplier-free MAC per lane per cycle (EBSP, Liu et al., DAC 2022; docs/ebsp.md; golden
model :mod:`golden.ebsp`).

Per input transaction, ``lut_sharing`` (R) exact dot products :func:`golden.ebsp.dot` of R weight rows with
one vector of ``pe_length`` activations. Per lane and row, the weight's shift ``p`` and digits ``d`` come
from a leading-one detector and a digit mux (``weight_format="plain"``) or straight from the payload
(``"encoded"``); the lane's LUT (:class:`hw.ebsp.lut.EBSPLut`) gives ``d * x``, a barrel shifter ``<< p``,
the sign negates, and one adder tree per row sums the lanes into the row's result register.

Three parts, so that a PE row shares the weight side and a PE column the activation side
(:class:`hw.array.shared_grid.RowSharedGrid`, docs/array.md): :class:`EBSPWeights` (the weight
registers and their decode into per-lane digits, shift and sign, and the format error),
:class:`EBSPActs` (the activation registers and the lanes' LUTs, one read port per weight row) and
:class:`EBSPDatapath` (per weight row: shifters, signs, adder tree; in an array, the tile accumulator).

Built from a :class:`golden.ebsp.EBSPConfig`. Ports: :mod:`hw.pe` plus ``weight_error : Out(1)``, sticky
until ``clear``/reset, raised with the ``o.valid`` of a group that held a weight outside its format. The
``weights`` payload is ``pe_length`` sign-magnitude words ``{mag, sign}`` (plain) or
:func:`golden.ebsp.pack` words ``{digits, shift, sign}`` (encoded); with R > 1 an array of R such rows,
and ``o.payload`` an array of R results. Timing: one step per group (the datapath is combinational
between the input and result registers): back to back one group per cycle, each result valid 2 cycles
after its acceptance (latency 1).

Choice: plain weights are sign-magnitude, so no B-bit negation sits before the LOD.
Choice: a plain weight outside the pattern is computed as :func:`golden.ebsp.decode_plain` and flagged.
Choice: an encoded shift above ``max_shift`` (a spare code of the field) is no code: flagged, result undefined.
Choice: with L = B-1 no LOD, digit mux or shifter is generated (the shift field is 0 bits wide).
Choice: LUT sharing is R rows against the same activations in one cycle: one R-port LUT per lane.
"""

import functools

import numpy as np
from amaranth.hdl import Cat, Const, Module, Mux, Signal, signed, unsigned
from amaranth.lib import data
from amaranth.lib.wiring import In, Out

from golden import ebsp
from golden.bits import unsigned_width
from golden.check import check_choice, check_int, check_sign_magnitude_array
from golden.ebsp import EBSPConfig
from hw.blocks.adder_tree import AdderTree
from hw.blocks.barrel_shifter import BarrelShifter
from hw.blocks.lod import LeadingOneDetector
from hw.base import Component
from hw.ebsp.lut import EBSPLut
from hw.pe import PE

__all__ = ["EBSPPE", "EBSPWeights", "EBSPActs", "EBSPDatapath", "WEIGHT_FORMATS", "term_layout",
           "row_terms_layout"]

WEIGHT_FORMATS = ("plain", "encoded")

_WEIGHT_FIELDS = {"mag": "magnitude |w| of the weight of {}",
                  "digits": "the L digits d of the weight of {} (|w| = d << shift)",
                  "shift": "shift of the weight of {}",
                  "sign": "sign of the weight of {} (1 = negative)"}


class EBSPPE(PE):
    """EBSP processing element, built from a :class:`~golden.ebsp.EBSPConfig` (see the module docstring).

    Hardware limits: ``pe_length`` 1..64, ``act_bits`` 2..16, ``lut_sharing`` 1..16, ``window`` at most 8
    (the LUT's). ``weight_format``: ``"plain"`` or ``"encoded"``. ``max_steps`` = 1.
    """

    config_class = EBSPConfig
    hw_limits = {"pe_length": (1, 64), "act_bits": (2, 16), "lut_sharing": (1, 16)}
    options = ("weight_format",)
    field_meanings = {**{f"weights{index}.{name}": text.format(where)
                         for index, where in (("[i]", "lane i"), ("[i][j]", "row i, lane j"))
                         for name, text in _WEIGHT_FIELDS.items()},
                      "acts[i]": "activation of lane i, two's complement"}

    def __init__(self, config, weight_format: str = "encoded"):
        self.weight_format = check_choice("weight_format", weight_format, WEIGHT_FORMATS)
        # the payload layout depends on the option, which hw.pe does not pass: bind it here
        self.weights_layout = functools.partial(type(self).weights_layout, weight_format=weight_format)
        super().__init__(config, {"weight_error": Out(1)})

    @classmethod
    def check_config(cls, config):
        config = super().check_config(config)
        check_int("window", config.window, lo=1, hi=EBSPLut.MAX_WINDOW,
                  extra=f"(the limit of {cls.__name__}: its LUTs have 2**window entries)")
        return config

    # -- shapes ------------------------------------------------------------------------------------

    @staticmethod
    def weight_layout(config, weight_format: str = "encoded") -> data.StructLayout:
        """One weight: sign-magnitude (``plain``) or the :func:`golden.ebsp.pack` word (``encoded``)."""
        if check_choice("weight_format", weight_format, WEIGHT_FORMATS) == "plain":
            return data.StructLayout({"mag": unsigned(config.bits - 1), "sign": 1})
        return data.StructLayout({"digits": unsigned(config.digit_width), "shift": unsigned(config.shift_width),
                                  "sign": 1})

    @classmethod
    def weights_layout(cls, config, weight_format: str = "encoded"):
        """The ``weights`` payload: ``pe_length`` weights, or ``lut_sharing`` rows of them when it is > 1."""
        row = data.ArrayLayout(cls.weight_layout(config, weight_format), config.pe_length)
        return row if config.lut_sharing == 1 else data.ArrayLayout(row, config.lut_sharing)

    @property
    def result_shape(self):
        """``signed(acc_width)``, or an array of ``lut_sharing`` of them (row ``r`` in element ``r``)."""
        width, rows = self.config.acc_width, self.config.lut_sharing
        return signed(width) if rows == 1 else data.ArrayLayout(signed(width), rows)

    @property
    def result_meaning(self) -> str:
        if self.config.lut_sharing == 1:
            return "the exact dot product of the group"
        return "element r: the exact dot product of weight row r of the group with its activations"

    @property
    def max_steps(self) -> int:
        return self.config.cycles_per_group

    # -- the payload API ---------------------------------------------------------------------------

    def encode_weights(self, weights):
        """One group's weights, ``[pe_length]`` or ``[lut_sharing, pe_length]`` integers, as payload value:
        sign-magnitude fields (plain) or the fields of :func:`golden.ebsp.encode` (encoded, pattern
        values only)."""
        cfg = self.config
        rows, lanes = cfg.lut_sharing, cfg.pe_length
        w = np.asarray(weights)
        if w.shape != (rows, lanes) and not (rows == 1 and w.shape == (lanes,)):
            raise ValueError(f"a group's weights must have shape ({rows}, {lanes}) (lut_sharing rows of "
                             f"pe_length lanes), got {w.shape}")
        w = w.reshape(rows, lanes)
        if self.weight_format == "plain":
            q = check_sign_magnitude_array("weights", w, cfg.bits)
            out = [[{"mag": abs(int(v)), "sign": int(v < 0)} for v in row] for row in q]
        else:
            c = ebsp.encode(w, bits=cfg.bits, window=cfg.window)
            out = [[{"digits": int(d), "shift": int(p), "sign": int(s)} for s, p, d in zip(*row)]
                   for row in zip(c.sign, c.shift, c.digits)]
        return out[0] if rows == 1 else out

    def unpack(self, word):
        """The result (an int), or with ``lut_sharing > 1`` the list of the rows' results."""
        if self.config.lut_sharing == 1:
            return super().unpack(word)
        layout = self.result_shape
        view = layout.from_bits(check_int("word", word, lo=0, hi=(1 << layout.size) - 1))
        return [view[r] for r in range(layout.length)]

    # -- gateware ----------------------------------------------------------------------------------

    def row_unit(self) -> "EBSPWeights":
        """The weight side of this PE: what a PE row shares (:class:`EBSPWeights`)."""
        return EBSPWeights(self.config, self.weight_format)

    def column_unit(self, read_ports: int | None = None) -> "EBSPActs":
        """The activation side: what a PE column shares (:class:`EBSPActs`), its LUTs read by
        ``read_ports`` weight rows (default ``lut_sharing``)."""
        return EBSPActs(self.config, self.config.lut_sharing if read_ports is None else read_ports)

    def datapath(self, tile_acc_width: int | None = None) -> "EBSPDatapath":
        """The rest of one weight row: shifters, signs and adder tree over the lanes' LUT values
        (:class:`EBSPDatapath`; ``tile_acc_width``: its array variant)."""
        return EBSPDatapath(self.config, tile_acc_width)

    def elaborate(self, platform):
        m = Module()
        R = self.config.lut_sharing
        seq = self.add_sequencer(m, self.max_steps, 1)
        m.submodules.weights = unit = self.row_unit()
        m.submodules.acts = col = self.column_unit()
        m.d.comb += [unit.weights.eq(self.i.payload.weights), unit.load.eq(seq.load), unit.active.eq(seq.active),
                     col.acts.eq(self.i.payload.acts), col.load.eq(seq.load)]
        sums = []
        for r in range(R):
            m.submodules[f"datapath{r}"] = dp = self.datapath()
            terms = unit.terms if R == 1 else unit.terms[r]
            m.d.comb += [col.terms[r].eq(terms), dp.terms.eq(terms), dp.values.eq(col.values[r])]
            sums.append(dp.sum)
        with m.If(seq.last):
            if R == 1:
                m.d.sync += self.o.payload.eq(sums[0])
            else:
                m.d.sync += [self.o.payload[r].eq(sums[r]) for r in range(R)]
            m.d.sync += self.weight_error.eq(self.weight_error | unit.error)
        with m.If(self.clear):
            m.d.sync += self.weight_error.eq(0)
        return m


def term_layout(config: EBSPConfig) -> data.StructLayout:
    """One lane's decoded weight: ``digits`` (the LUT index ``d``), ``shift`` (``p``, 0 bits when L = B-1),
    ``sign``; ``|w| = d << p``."""
    return data.StructLayout({"digits": unsigned(config.digit_width), "shift": unsigned(config.shift_width),
                              "sign": 1})


def row_terms_layout(config: EBSPConfig) -> data.ArrayLayout:
    """The terms of one weight row: ``pe_length`` lanes of :func:`term_layout`."""
    return data.ArrayLayout(term_layout(config), config.pe_length)


class EBSPWeights(Component):
    """The weight side of an EBSP PE, shared by a PE row: the registered weights of one group and their
    decode into each lane's digits, shift and sign.

    Ports: ``weights`` In(:meth:`EBSPPE.weights_layout`), the offered group; ``load`` In(1) (register it);
    ``active`` In(1) (no effect: a group is one step); ``n_steps`` Out: 1; ``terms``
    Out(:func:`row_terms_layout`, or an array of ``lut_sharing`` of them when it is > 1): each lane's
    decoded registered weight (plain: a leading-one detector and a digit mux per lane; encoded: the
    fields); ``error`` Out(1): a registered weight is outside its format (plain: one bits below the
    shift, computed as :func:`golden.ebsp.decode_plain`; encoded: a shift above ``max_shift``). Latency:
    the terms and ``error`` of a group are there from the cycle after ``load`` until the next ``load``.
    """

    def __init__(self, config: EBSPConfig, weight_format: str = "encoded"):
        self.config = config
        self.weight_format = check_choice("weight_format", weight_format, WEIGHT_FORMATS)
        R = config.lut_sharing
        terms = row_terms_layout(config)
        super().__init__({
            "weights": In(EBSPPE.weights_layout(config, weight_format)), "load": In(1), "active": In(1),
            "n_steps": Out(unsigned_width(config.cycles_per_group)),
            "terms": Out(terms if R == 1 else data.ArrayLayout(terms, R)),
            "error": Out(1),
        })

    def _decode_plain(self, m, w, name):
        """LOD + digit mux on a registered sign-magnitude weight: (shift, digits, error)."""
        cfg, L = self.config, self.config.window
        if cfg.max_shift == 0:                       # L = B-1: every magnitude is a pattern value
            return None, w.mag, Const(0, 1)
        m.submodules[f"lod_{name}"] = lod = LeadingOneDetector(cfg.bits - 1)
        m.submodules[f"digit_mux_{name}"] = mux = BarrelShifter(cfg.bits - 1, cfg.max_shift, "right")
        p = Signal(cfg.shift_width, name=f"shift_{name}")
        d = Signal(L, name=f"digits_{name}")
        err = Signal(name=f"error_{name}")
        m.d.comb += [
            lod.data.eq(w.mag),
            p.eq(Mux(lod.index >= L - 1, lod.index - (L - 1), 0)),
            mux.data.eq(w.mag), mux.amount.eq(p),
            d.eq(mux.result[:L]),
            err.eq((w.mag & ((Const(1, cfg.bits) << p) - 1)).any()),   # ones below p are dropped
        ]
        return p, d, err

    def _decode_encoded(self, m, w, name):
        cfg = self.config
        if cfg.shift_width == 0:
            return None, w.digits, Const(0, 1)
        err = Const(0, 1) if (1 << cfg.shift_width) - 1 <= cfg.max_shift else (w.shift > cfg.max_shift)
        return w.shift, w.digits, err

    def elaborate(self, platform):
        m = Module()
        cfg = self.config
        n, R = cfg.pe_length, cfg.lut_sharing
        m.d.comb += self.n_steps.eq(1)
        wreg = Signal(EBSPPE.weights_layout(cfg, self.weight_format))
        with m.If(self.load):
            m.d.sync += wreg.eq(self.weights)
        rows = [wreg] if R == 1 else [wreg[r] for r in range(R)]
        terms = [self.terms] if R == 1 else [self.terms[r] for r in range(R)]
        decode = self._decode_plain if self.weight_format == "plain" else self._decode_encoded
        errors = []
        for r, row in enumerate(rows):
            for i in range(n):
                p, d, err = decode(m, row[i], f"r{r}_l{i}")
                errors.append(err)
                m.d.comb += [terms[r][i].digits.eq(d), terms[r][i].sign.eq(row[i].sign)]
                if p is not None:
                    m.d.comb += terms[r][i].shift.eq(p)
        m.d.comb += self.error.eq(Cat(*errors).any())              # one reduction, not a chain of ORs
        return m


class EBSPActs(Component):
    """The activation side of an EBSP PE, shared by a PE column: the registered activations of one group
    and per lane an :class:`~hw.ebsp.lut.EBSPLut` of their multiples, read by ``read_ports`` weight rows.

    Ports: ``acts`` In(``ArrayLayout(signed(act_bits), pe_length)``), the offered group's; ``load``
    In(1) (register them); ``terms`` In(``ArrayLayout(row_terms_layout, read_ports)``): read port ``k``'s
    weight row (only the ``digits`` are used); ``values``
    Out(``ArrayLayout(ArrayLayout(signed(lut_entry_width), pe_length), read_ports)``): lane ``i`` of port
    ``k`` is ``terms[k][i].digits * x_i`` of the registered activation ``x_i`` (combinational). Latency:
    the activations are registered in the cycle of ``load``, the values follow the terms in the same cycle.
    """

    def __init__(self, config: EBSPConfig, read_ports: int = 1):
        self.config = config
        self.read_ports = check_int("read_ports", read_ports, lo=1, hi=64)
        n = config.pe_length
        super().__init__({
            "acts": In(data.ArrayLayout(signed(config.act_bits), n)), "load": In(1),
            "terms": In(data.ArrayLayout(row_terms_layout(config), self.read_ports)),
            "values": Out(data.ArrayLayout(data.ArrayLayout(signed(config.lut_entry_width), n), self.read_ports)),
        })

    def elaborate(self, platform):
        m = Module()
        cfg = self.config
        areg = Signal(data.ArrayLayout(signed(cfg.act_bits), cfg.pe_length))
        with m.If(self.load):
            m.d.sync += areg.eq(self.acts)
        for i in range(cfg.pe_length):
            m.submodules[f"lut{i}"] = lut = EBSPLut(cfg.act_bits, cfg.window, read_ports=self.read_ports)
            m.d.comb += lut.x.eq(areg[i])
            for k in range(self.read_ports):
                m.d.comb += [lut.digit[k].eq(self.terms[k][i].digits), self.values[k][i].eq(lut.value[k])]
        return m


class EBSPDatapath(Component):
    """One weight row of an EBSP PE against one column's LUT values: per lane ``±(value << shift)`` (a
    barrel shifter, a negation), an adder tree over the lanes.

    Two variants (``tile_acc_width``):

    * PE (``None``): ``sum`` Out(``signed(acc_width)``), the group's dot product (combinational);
    * array (``W``): a ``W``-bit accumulator ``acc`` that adds the sum in every ``active`` cycle (every
      pass of a tile) and is zeroed by ``clear``; it is the PE's output accumulator, modulo ``2**W``.

    Ports: ``values`` In(``ArrayLayout(signed(lut_entry_width), pe_length)``), the lanes' LUT reads
    ``d_i * x_i``; ``terms`` In(:func:`row_terms_layout`); ``sum``; array variant ``active`` In(1),
    ``clear`` In(1), ``acc`` Out(signed(W)). Golden function: :func:`golden.ebsp.dot`. Latency: the sum
    is combinational; the accumulator holds it one cycle after an ``active`` cycle.
    """

    def __init__(self, config: EBSPConfig, tile_acc_width: int | None = None):
        self.config = config
        self.tile_acc_width = None if tile_acc_width is None else check_int("tile_acc_width", tile_acc_width,
                                                                             lo=2, hi=64)
        n = config.pe_length
        ports = {"values": In(data.ArrayLayout(signed(config.lut_entry_width), n)),
                 "terms": In(row_terms_layout(config)),
                 "sum": Out(signed(config.acc_width))}
        if self.tile_acc_width is not None:
            ports.update({"active": In(1), "clear": In(1), "acc": Out(signed(self.tile_acc_width))})
        super().__init__(ports)

    def elaborate(self, platform):
        m = Module()
        cfg = self.config
        n = cfg.pe_length
        m.submodules.tree = tree = AdderTree(n, cfg.product_width)
        for i in range(n):
            t, term = self.values[i], self.terms[i]
            if cfg.shift_width:
                m.submodules[f"shifter_l{i}"] = sh = BarrelShifter(cfg.lut_entry_width, cfg.max_shift,
                                                                    "left", arithmetic=True)
                m.d.comb += [sh.data.eq(t), sh.amount.eq(term.shift)]
                t = sh.result.as_signed()
            prod = Signal(signed(cfg.product_width), name=f"product_l{i}")
            m.d.comb += [prod.eq(Mux(term.sign, -t, t)), tree.x[i].eq(prod)]
        m.d.comb += self.sum.eq(tree.sum)
        if self.tile_acc_width is not None:
            with m.If(self.active):
                m.d.sync += self.acc.eq(self.acc + tree.sum)
            with m.If(self.clear):
                m.d.sync += self.acc.eq(0)
        return m
