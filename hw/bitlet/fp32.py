"""Bitlet fp32 datapath blocks: operand decode with the exponent max tree, the aligner, the repacker.

docs/bitlet.md (fp32), golden model :mod:`golden.bitlet` (IEEE mode, ``nonfinite="nan"``). All three are
combinational (latency 0); with ``registered=True`` (as the PE uses them) the decoder registers its
exponent sums before the max tree and the repacker has a stage register in its middle (one cycle each).

:class:`Fp32Decode` (Reassembler + FindMax, ``n`` pairs of binary32 bit patterns)
    ``Esum = Wexp + Aexp`` (a denormal's field read as 1), the 24-bit mantissas with hidden bit, the
    product sign ``neg = Wsign ^ Asign``. A pair with an exact zero operand is removed (``Esum = 0``,
    ``Wman = 0``), and so is one with an infinite or NaN operand, which also raises ``nonfinite``.
    ``emax`` is the maximum ``Esum``, a compare-and-select tree (a removed pair's 0 never wins).
:class:`Fp32Align`
    ``Walign_i = Wman_i >> (Emax - Esum_i)``, truncating (shift amounts above 31 give zero).
:class:`Fp32Repack` (``Bitlet_PackFloat.v``, :func:`golden.bitlet.repack_fp32`)
    ``acc * 2**(Emax - 300)`` to binary32 by truncation: the leading one of ``|acc|`` gives the biased
    exponent ``E = cnt + Emax - 173``; ``E > 254`` gives ``+-inf``, ``E <= 0`` an IEEE denormal (possibly
    a signed zero), ``acc = 0`` gives ``+0.0`` and ``nonfinite`` the quiet NaN ``0x7FC00000``. The stage
    register (``registered=True``) sits after the leading-one detector and the exponent.
"""

from amaranth.hdl import Cat, Const, Module, Mux, Signal, signed
from amaranth.lib.wiring import In, Out

from golden.bitlet import FP32_NAN, FP32_SCALE_OFFSET, MAX_CHANNEL, MAX_TOTAL
from golden.bits import unsigned_width
from golden.check import check_bool, check_int
from hw.blocks.barrel_shifter import BarrelShifter
from hw.base import Component
from hw.blocks.lod import LeadingOneDetector

__all__ = ["ESUM_WIDTH", "MAN_WIDTH", "Fp32Decode", "Fp32Align", "Fp32Repack"]

#: ``Esum = Wexp + Aexp <= 254 + 254``.
ESUM_WIDTH = unsigned_width(2 * 254)
#: Mantissa with hidden bit.
MAN_WIDTH = MAX_CHANNEL
_EXP_BIAS = 127


class Fp32Decode(Component):
    """Decode ``n`` fp32 (weight, activation) pairs and take the maximum exponent sum.

    Attributes
    ----------
    w, a : In(32).array(n)
        IEEE binary32 bit patterns.
    wman : Out(24).array(n)
        Weight mantissa with hidden bit; 0 for a removed pair.
    esum : Out(ESUM_WIDTH).array(n)
        ``Wexp + Aexp``; 0 for a removed pair.
    aman : Out(24).array(n)
        Activation mantissa with hidden bit.
    neg : Out(1).array(n)
        ``Wsign ^ Asign``.
    emax : Out(ESUM_WIDTH)
        Maximum ``esum``.
    nonfinite : Out(1)
        Some operand is infinite or NaN.
    en : In(1)
        Only when ``registered``: the ``esum`` and the special-operand flags of this cycle are
        registered, and ``emax`` / ``nonfinite`` are those of the last cycle with ``en`` (the max tree
        starts at flip-flops); the other outputs stay combinational.
    """

    def __init__(self, n: int, registered: bool = False):
        self.n = check_int("n", n, lo=1, hi=MAX_TOTAL)
        self.registered = check_bool("registered", registered)
        ports = {
            "w": In(32).array(self.n), "a": In(32).array(self.n),
            "wman": Out(MAN_WIDTH).array(self.n), "esum": Out(ESUM_WIDTH).array(self.n),
            "aman": Out(MAN_WIDTH).array(self.n), "neg": Out(1).array(self.n),
            "emax": Out(ESUM_WIDTH), "nonfinite": Out(1),
        }
        if registered:
            ports["en"] = In(1)
        super().__init__(ports)

    def elaborate(self, platform):
        m = Module()
        special = []
        for i in range(self.n):
            w, a = self.w[i], self.a[i]
            wf, af = w[23:31], a[23:31]
            wzero = (wf == 0) & (w[:23] == 0)
            azero = (af == 0) & (a[:23] == 0)
            sp = Signal(name=f"special{i}")
            removed = Signal(name=f"removed{i}")
            wexp = Signal(8, name=f"wexp{i}")
            aexp = Signal(8, name=f"aexp{i}")
            m.d.comb += [
                sp.eq((wf == 0xFF) | (af == 0xFF)),
                removed.eq(wzero | azero | sp),
                wexp.eq(wf | (wf == 0)),                    # a denormal's exponent field reads as 1
                aexp.eq(af | (af == 0)),
                self.aman[i].eq(Cat(a[:23], af != 0)),      # IEEE: hidden bit 0 for a denormal
                self.wman[i].eq(Mux(removed, 0, Cat(w[:23], wf != 0))),
                self.esum[i].eq(Mux(removed, 0, wexp + aexp)),
                self.neg[i].eq(w[31] ^ a[31]),
            ]
            special.append(sp)
        esums, specials = [self.esum[i] for i in range(self.n)], Cat(*special)
        if self.registered:
            esums = [Signal(ESUM_WIDTH, name=f"esum_r{i}") for i in range(self.n)]
            specials = Signal(self.n)
            with m.If(self.en):
                m.d.sync += [r.eq(self.esum[i]) for i, r in enumerate(esums)]
                m.d.sync += specials.eq(Cat(*special))
        m.d.comb += self.nonfinite.eq(specials.any())
        # max tree over the exponent sums
        nodes = esums
        level = 0
        while len(nodes) > 1:
            level += 1
            merged = []
            for k in range(0, len(nodes) - 1, 2):
                s = Signal(ESUM_WIDTH, name=f"max_l{level}_n{k // 2}")
                m.d.comb += s.eq(Mux(nodes[k] >= nodes[k + 1], nodes[k], nodes[k + 1]))
                merged.append(s)
            if len(nodes) % 2:
                merged.append(nodes[-1])
            nodes = merged
        m.d.comb += self.emax.eq(nodes[0])
        return m


class Fp32Align(Component):
    """Truncating alignment of ``n`` weight mantissas to the block exponent.

    Attributes
    ----------
    wman : In(24).array(n)
    esum : In(ESUM_WIDTH).array(n)
    emax : In(ESUM_WIDTH)
        Must be ``>= esum[i]`` for every ``i`` (the maximum).
    walign : Out(24).array(n)
        ``wman[i] >> (emax - esum[i])``.
    """

    def __init__(self, n: int):
        self.n = check_int("n", n, lo=1, hi=MAX_TOTAL)
        super().__init__({
            "wman": In(MAN_WIDTH).array(self.n), "esum": In(ESUM_WIDTH).array(self.n),
            "emax": In(ESUM_WIDTH), "walign": Out(MAN_WIDTH).array(self.n),
        })

    def elaborate(self, platform):
        m = Module()
        for i in range(self.n):
            sh = BarrelShifter(MAN_WIDTH, 31, direction="right")
            m.submodules[f"shift{i}"] = sh
            d = Signal(ESUM_WIDTH, name=f"d{i}")
            m.d.comb += [
                d.eq(self.emax - self.esum[i]),
                sh.data.eq(self.wman[i]),
                sh.amount.eq(Mux(d[sh.amount_width:].any(), 31, d[:sh.amount_width])),
                self.walign[i].eq(sh.result),
            ]
        return m


class Fp32Repack(Component):
    """``acc * 2**(emax - 300)`` to IEEE binary32, truncating (``Bitlet_PackFloat.v``).

    Parameters
    ----------
    acc_width : int
        Width of the signed accumulator, 2..64.
    registered : bool
        Put a register stage in the middle: ``|acc|``, its leading one ``cnt``, the biased exponent and
        the flags are registered when ``en`` is set, and ``bits`` is packed from those registers (the
        normalizing and denormal shifts). Default: combinational.

    Attributes
    ----------
    acc : In(signed(acc_width))
    emax : In(ESUM_WIDTH)
    nonfinite : In(1)
    en : In(1)
        Only when ``registered``: load the stage register.
    bits : Out(32)
    """

    def __init__(self, acc_width: int, registered: bool = False):
        self.acc_width = check_int("acc_width", acc_width, lo=2, hi=64)
        self.registered = check_bool("registered", registered)
        ports = {"acc": In(signed(self.acc_width)), "emax": In(ESUM_WIDTH), "nonfinite": In(1), "bits": Out(32)}
        if registered:
            ports["en"] = In(1)
        super().__init__(ports)

    def elaborate(self, platform):
        m = Module()
        mw = self.acc_width - 1                 # |acc| <= 2**(acc_width - 1)
        mag = Signal(mw + 1)
        sign = Signal()
        m.d.comb += [sign.eq(self.acc < 0), mag.eq(Mux(sign, -self.acc, self.acc))]
        m.submodules.lod = lod = LeadingOneDetector(mw + 1)
        m.d.comb += lod.data.eq(mag)
        # biased exponent E = cnt + scale + 127, scale = emax - 300
        e = Signal(signed(12))
        m.d.comb += e.eq(lod.index + self.emax - (FP32_SCALE_OFFSET - _EXP_BIAS))
        front = [sign, mag, lod.index, lod.valid, e, self.nonfinite]
        if self.registered:                     # the stage register: the rest starts at flip-flops
            back = [Signal.like(x, name=f"{x.name}_r") for x in front]
            with m.If(self.en):
                m.d.sync += [b.eq(f) for b, f in zip(back, front)]
            front = back
        sign, mag, cnt, nonzero, e, nonfinite = front
        top = Signal(24)                        # the leading one and the 23 bits below it (truncated)
        m.d.comb += top.eq((Cat(Const(0, 23), mag) >> cnt)[:24])
        sub_shift = Signal(signed(13))
        sub = Signal(23)
        m.d.comb += [
            sub_shift.eq(1 - e),
            sub.eq(Mux(sub_shift >= 24, 0, top >> sub_shift[:5])),
        ]
        body = Signal(31)
        with m.If(e > 254):
            m.d.comb += body.eq(0xFF << 23)
        with m.Elif(e >= 1):
            m.d.comb += body.eq(Cat(top[:23], e[:8]))
        with m.Else():
            m.d.comb += body.eq(sub)
        with m.If(nonfinite):
            m.d.comb += self.bits.eq(FP32_NAN)
        with m.Elif(~nonzero):
            m.d.comb += self.bits.eq(0)
        with m.Else():
            m.d.comb += self.bits.eq(Cat(body, sign))
        return m
