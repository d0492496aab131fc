"""EBSP PE: one multiplier-free MAC per lane per cycle, from a leading-one detector, a digit mux, a LUT of
activation multiples and a barrel shifter (docs/ebsp.md; golden model :mod:`golden.ebsp`).

What it computes: per input transaction, ``lut_sharing`` exact dot products
``sum_i (s_i ? -LUT_{x_i}[d_i] : LUT_{x_i}[d_i]) << p_i`` (:func:`golden.ebsp.dot`) of ``lut_sharing`` weight
rows with **one** activation vector of ``lanes`` (G_pe) activations. Per weight and lane:

* ``weight_format="plain"``: the weight is a plain ``bits``-bit **sign-magnitude** integer (bit ``B-1`` the
  sign, bits ``[0, B-1)`` the magnitude ``m``). The LOD (:class:`hw.blocks.lod.LeadingOneDetector`) finds the
  leading one ``e`` of ``m``, ``p = max(e - (L-1), 0)``, and the digit mux (a logical right
  :class:`hw.blocks.barrel_shifter.BarrelShifter`, keeping the low ``L`` bits) extracts ``d = (m >> p) & (2**L-1)``.
* ``weight_format="encoded"``: the weight is the ``(sign, shift, digits)`` code of :func:`golden.ebsp.encode`,
  bit for bit the word of :func:`golden.ebsp.pack` (digits ``[0, L)``, shift ``[L, L+shift_width)``, sign on
  top); no LOD, no digit mux.
* Then the lane's LUT (:class:`hw.ebsp.lut.EBSPLut`, ``2**(L-1)-1`` adders) gives ``t = d * x``, a left
  arithmetic barrel shifter gives ``t << p``, the sign negates it, and one adder tree per row sums the
  lanes into the row's result register.

Latency / throughput: :class:`hw.pe.SerialSequencer` with ``n_steps = 1``: a group is registered when
accepted, the whole datapath (LOD, mux, LUT, shift, tree) runs combinationally in the next cycle, which
writes the result register and accepts the next group. One group (``lut_sharing`` rows) per cycle,
``o.valid`` 2 cycles after acceptance, ``steps_per_group = 1`` = :func:`golden.cycles.group_cycles_ebsp`
(a transaction's rows run in lock step, so a transaction costs the max over its rows, i.e. 1). Not
pipelined: with one step per group the "accumulator" is the result register itself (nothing is carried
between cycles).

Choices (the paper's datapath is a reconstruction; docs/ebsp.md):

* **Plain weights are sign-magnitude words**, the representation the golden model defines the pattern on
  (``-2**(B-1)`` has no code; ``sign=1, m=0`` is a harmless negative zero). A two's-complement input would
  need a ``B``-bit negation before the LOD in every lane. Payload element: ``StructLayout({"mag":
  unsigned(B-1), "sign": 1})``.
* **Plain weights outside the pattern are computed as documented, and flagged.** The LOD path drops the
  one-bits below ``p`` (the magnitude is truncated toward zero): the result is exactly
  :func:`golden.ebsp.dot` of :func:`golden.ebsp.decode_plain` of the weights, in the same single cycle. So
  that this truncation is never silent, the sticky output ``weight_error`` rises (together with that
  group's ``o.valid``) when a processed weight had a one below ``p`` (``m & (2**p - 1) != 0``, i.e. not
  :func:`golden.ebsp.is_pattern`), and stays high until ``clear``/reset.
* **Encoded weights**: every code is computed as ``(-1)**sign * (digits << shift)``, canonical or not
  (a non-canonical code such as ``shift > 0`` with the top digit 0 is still in range). A ``shift`` field
  above ``max_shift = B-1-L`` (possible when the field has spare codes, e.g. 5..7 for B=8, L=3) is not a
  code: the result of that group is undefined and ``weight_error`` rises. Otherwise ``weight_error`` is 0.
* **L = B-1**: the shift is always 0, so no LOD, digit mux or shifter is generated (and the shift field
  is 0 bits wide, as in :attr:`golden.ebsp.EBSPConfig.shift_width`).
* **LUT sharing** (``lut_sharing = R``): within one PE every lane has its own activation, so the sharing of
  the EBSP datapath (one LUT per activation read by several output channels) is exposed as ``R`` weight rows (output
  channels) processed against the same activation vector in the same cycle. Each lane builds **one**
  LUT with ``R`` read ports; each row has its own LOD/mux, shifters, adder tree and result. This is
  ``R`` EBSP PEs fused around shared LUTs (:attr:`golden.ebsp.EBSPConfig.lut_adders_per_pe` is the
  amortized LUT cost). With ``R = 1`` (default) the ports are exactly the PE streaming contract; with
  ``R > 1`` the ``weights`` payload is an array of ``R`` rows and ``o.payload`` is
  ``ArrayLayout(signed(result_width), R)`` (row ``r`` in element ``r``), one output transaction per input
  transaction.
* Widths: LUT entries :attr:`EBSPConfig.lut_entry_width`, lane products :attr:`EBSPConfig.product_width`,
  results :attr:`EBSPConfig.acc_width` (the exact worst case ``G * max_magnitude * 2**(a-1)``).
  ``window`` is limited to 8 by the LUT generator (256 entries).

Ports: :mod:`hw.pe` (``i``, ``o``, ``clear``, ``cycles``) plus ``weight_error : Out(1)`` (sticky, see
above).
"""

from amaranth.hdl import Cat, Const, Module, Mux, Signal, signed, unsigned
from amaranth.lib import data, stream
from amaranth.lib.wiring import Out

from golden.check import check_choice, check_int
from golden.ebsp import EBSPConfig
from hw.blocks.adder_tree import AdderTree
from hw.blocks.barrel_shifter import BarrelShifter
from hw.base import Component
from hw.ebsp.lut import EBSPLut
from hw.blocks.lod import LeadingOneDetector
from hw.pe import SerialSequencer, pe_ports

__all__ = ["EBSPPE", "WEIGHT_FORMATS"]

WEIGHT_FORMATS = ("plain", "encoded")
_MAX_LUT_WINDOW = 8


class EBSPPE(Component):
    """EBSP processing element (see the module docstring).

    Parameters
    ----------
    bits : int
        Weight width B (sign-magnitude), 2..16.
    window : int
        Pattern window L, ``1..min(bits-1, 8)``.
    lanes : int
        Dot-product length G_pe, 1..64.
    act_bits : int
        Signed activation width, 2..16.
    weight_format : "plain" or "encoded"
        Sign-magnitude integers decoded by LOD + digit mux, or pre-encoded ``(sign, shift, digits)`` codes.
    lut_sharing : int
        Weight rows (output channels) sharing each activation's LUT, 1..16.

    Attributes
    ----------
    i : In(stream.Signature(input_layout(weights_layout(...), lanes=lanes, act_bits=act_bits)))
    o : Out(stream.Signature(signed(result_width)))
        ``ArrayLayout(signed(result_width), lut_sharing)`` when ``lut_sharing > 1``.
    clear : In(1)
    cycles : Out(32)
    weight_error : Out(1)
        Sticky: a processed weight was outside the format (see the module docstring).
    """

    def __init__(self, bits: int = 8, window: int = 3, lanes: int = 16, act_bits: int = 8,
                 weight_format: str = "encoded", lut_sharing: int = 1):
        check_int("lanes", lanes, lo=1, hi=64)
        check_int("act_bits", act_bits, lo=2, hi=16)
        check_choice("weight_format", weight_format, WEIGHT_FORMATS)
        check_int("lut_sharing", lut_sharing, lo=1, hi=16)
        self.config = EBSPConfig(bits=bits, window=window, pe_length=lanes, act_bits=act_bits,
                                 lut_sharing=lut_sharing)
        check_int("window", window, lo=1, hi=min(bits - 1, _MAX_LUT_WINDOW),
                  extra=f"(at most bits-1 and at most {_MAX_LUT_WINDOW}: the LUT has 2**window entries)")
        self.bits, self.window, self.lanes, self.act_bits = bits, window, lanes, act_bits
        self.weight_format, self.lut_sharing = weight_format, lut_sharing
        self.result_width = self.config.acc_width
        ports = pe_ports(self.weights_layout(bits, window, lanes, weight_format, lut_sharing), lanes=lanes,
                         act_bits=act_bits, result_width=self.result_width)
        if lut_sharing > 1:
            ports["o"] = Out(stream.Signature(data.ArrayLayout(signed(self.result_width), lut_sharing)))
        ports["weight_error"] = Out(1)
        super().__init__(ports)

    @staticmethod
    def weight_layout(bits: int, window: int, weight_format: str) -> data.StructLayout:
        """Layout of one weight: sign-magnitude (``plain``) or the :func:`golden.ebsp.pack` word (``encoded``)."""
        cfg = EBSPConfig(bits=bits, window=window)
        if check_choice("weight_format", weight_format, WEIGHT_FORMATS) == "plain":
            return data.StructLayout({"mag": unsigned(bits - 1), "sign": 1})
        return data.StructLayout({"digits": unsigned(cfg.digit_width), "shift": unsigned(cfg.shift_width),
                                  "sign": 1})

    @staticmethod
    def weights_layout(bits: int, window: int, lanes: int, weight_format: str, lut_sharing: int = 1):
        """The ``weights`` payload: ``lanes`` weights, or ``lut_sharing`` rows of them when it is > 1."""
        row = data.ArrayLayout(EBSPPE.weight_layout(bits, window, weight_format), lanes)
        return row if lut_sharing == 1 else data.ArrayLayout(row, lut_sharing)

    @property
    def steps_per_group(self) -> int:
        return self.config.cycles_per_group

    def _decode_plain(self, m, w, name):
        """LOD + digit mux on a registered sign-magnitude weight: (shift, digits, error)."""
        cfg, L = self.config, self.window
        if cfg.max_shift == 0:                       # L = B-1: every magnitude is a pattern value
            return None, w.mag, Const(0, 1)
        m.submodules[f"lod_{name}"] = lod = LeadingOneDetector(self.bits - 1)
        m.submodules[f"digit_mux_{name}"] = mux = BarrelShifter(self.bits - 1, cfg.max_shift, "right")
        p = Signal(cfg.shift_width, name=f"shift_{name}")
        d = Signal(L, name=f"digits_{name}")
        err = Signal(name=f"error_{name}")
        m.d.comb += [
            lod.data.eq(w.mag),
            p.eq(Mux(lod.index >= L - 1, lod.index - (L - 1), 0)),
            mux.data.eq(w.mag), mux.amount.eq(p),
            d.eq(mux.result[:L]),
            err.eq((w.mag & ((Const(1, self.bits) << p) - 1)).any()),   # ones below p are dropped
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
        cfg, n, R = self.config, self.lanes, self.lut_sharing
        m.submodules.seq = seq = SerialSequencer(1)
        m.d.comb += [
            seq.in_valid.eq(self.i.valid), seq.out_ready.eq(self.o.ready), seq.clear.eq(self.clear),
            seq.n_steps.eq(1),
            self.i.ready.eq(seq.in_ready), self.o.valid.eq(seq.out_valid), self.cycles.eq(seq.cycles),
        ]
        wreg = Signal(self.weights_layout(self.bits, self.window, n, self.weight_format, R))
        areg = Signal(data.ArrayLayout(signed(self.act_bits), n))
        with m.If(seq.load):
            m.d.sync += [wreg.eq(self.i.payload.weights), areg.eq(self.i.payload.acts)]
        rows = [wreg] if R == 1 else [wreg[r] for r in range(R)]

        luts = []
        for i in range(n):
            m.submodules[f"lut{i}"] = lut = EBSPLut(self.act_bits, self.window, read_ports=R)
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
        m.d.comb += any_error.eq(_or_all(errors))
        with m.If(seq.last):
            if R == 1:
                m.d.sync += self.o.payload.eq(sums[0])
            else:
                m.d.sync += [self.o.payload[r].eq(sums[r]) for r in range(R)]
            m.d.sync += self.weight_error.eq(self.weight_error | any_error)
        with m.If(self.clear):
            m.d.sync += self.weight_error.eq(0)
        return m


def _or_all(values):
    """OR of 1-bit values (one reduction, not a chain of thousands of operators)."""
    return Cat(*values).any() if values else Const(0, 1)
