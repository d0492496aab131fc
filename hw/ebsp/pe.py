"""EBSP PE: one multiplier-free MAC per lane per cycle (EBSP, Liu et al., DAC 2022; docs/ebsp.md; golden
model :mod:`golden.ebsp`).

Per input transaction, ``lut_sharing`` (R) exact dot products :func:`golden.ebsp.dot` of R weight rows with
one vector of ``pe_length`` activations. Per lane and row, the weight's shift ``p`` and digits ``d`` come
from a leading-one detector and a digit mux (``weight_format="plain"``) or straight from the payload
(``"encoded"``); the lane's LUT (:class:`hw.ebsp.lut.EBSPLut`) gives ``d * x``, a barrel shifter ``<< p``,
the sign negates, and one adder tree per row sums the lanes into the row's result register.

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
from amaranth.lib.wiring import Out

from golden import ebsp
from golden.check import check_choice, check_int, check_sign_magnitude_array
from golden.ebsp import EBSPConfig
from hw.blocks.adder_tree import AdderTree
from hw.blocks.barrel_shifter import BarrelShifter
from hw.blocks.lod import LeadingOneDetector
from hw.ebsp.lut import EBSPLut
from hw.pe import PE

__all__ = ["EBSPPE", "WEIGHT_FORMATS"]

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
        seq = self.add_sequencer(m, self.max_steps, 1)
        wreg = Signal(self.weights_layout(cfg))
        areg = Signal(data.ArrayLayout(signed(cfg.act_bits), n))
        with m.If(seq.load):
            m.d.sync += [wreg.eq(self.i.payload.weights), areg.eq(self.i.payload.acts)]
        rows = [wreg] if R == 1 else [wreg[r] for r in range(R)]

        luts = []
        for i in range(n):
            m.submodules[f"lut{i}"] = lut = EBSPLut(cfg.act_bits, cfg.window, read_ports=R)
            m.d.comb += lut.x.eq(areg[i])
            luts.append(lut)

        decode = self._decode_plain if self.weight_format == "plain" else self._decode_encoded
        sums, errors = [], []
        for r, row in enumerate(rows):
            m.submodules[f"tree{r}"] = tree = AdderTree(n, cfg.product_width)
            for i in range(n):
                name = f"r{r}_l{i}"
                w = row[i]
                p, d, err = decode(m, w, name)
                errors.append(err)
                m.d.comb += luts[i].digit[r].eq(d)
                t = luts[i].value[r]
                if p is not None:
                    m.submodules[f"shifter_{name}"] = sh = BarrelShifter(cfg.lut_entry_width, cfg.max_shift,
                                                                          "left", arithmetic=True)
                    m.d.comb += [sh.data.eq(t), sh.amount.eq(p)]
                    t = sh.result.as_signed()
                prod = Signal(signed(cfg.product_width), name=f"product_{name}")
                m.d.comb += [prod.eq(Mux(w.sign, -t, t)), tree.x[i].eq(prod)]
            sums.append(tree.sum)

        any_error = Signal()
        m.d.comb += any_error.eq(Cat(*errors).any())              # one reduction, not a chain of ORs
        with m.If(seq.last):
            if R == 1:
                m.d.sync += self.o.payload.eq(sums[0])
            else:
                m.d.sync += [self.o.payload[r].eq(sums[r]) for r in range(R)]
            m.d.sync += self.weight_error.eq(self.weight_error | any_error)
        with m.If(self.clear):
            m.d.sync += self.weight_error.eq(0)
        return m
