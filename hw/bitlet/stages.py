"""The pipeline stages of the Bitlet PE (:class:`hw.bitlet.pe.BitletPE`), joined by streams.

A pass moves from stage to stage as one stream transfer (``valid``: the stage holds a pass, ``ready``:
the next stage can take it); every stage also has ``clear`` (drop what it holds). In order:

:class:`BitletStaging` (``i``: the PE's beats, ``o``: :func:`pass_layout`)
    Collects the ``L = n_total / n_input`` beats of a pass. Fixed point: beats ``0 .. L-2`` in registers,
    the last beat is not stored: the pass is offered while its last beat is offered, and both are taken
    in the same cycle. fp32: every beat is decoded (:class:`hw.bitlet.fp32.Fp32Decode`, registered) and
    stored; the pass is offered once its block exponent is registered, two cycles after its last beat,
    and takes no beat until it leaves. ``i.ready`` (fixed point: ``o.valid`` too) is low during ``clear``
    and reset.
:class:`BitletAlign` (fp32 only)
    The aligned registers: the pass with its weight mantissas aligned to its block exponent
    (:class:`hw.bitlet.fp32.Fp32Align`). Takes a pass only when empty (``ready`` is a register).
:class:`BitletCompute`
    The compute registers, the lane schedulers (:class:`hw.bitlet.lanes.BitletLanes`), the MAC
    (:class:`hw.bitlet.mac.BitletMAC`) and the result register (``o``); takes a pass when idle or in its
    last step, ``max(1, pass_cycles)`` steps (``cycles`` counts them); everything waits while the last
    step of a pass cannot be written because ``o`` holds a result not yet taken.
:class:`BitletRepack` (fp32 only)
    The repack (:class:`hw.bitlet.fp32.Fp32Repack`, registered): its stage register is the PE's ``o``.

Latency: one cycle per register stage (staging fp32: two; align: one; compute: ``steps`` plus the MAC's
two and the result register; repack: one); the exact timing is :func:`golden.bitlet.pe_stream_timing`.
"""

from __future__ import annotations

from amaranth.hdl import Cat, Module, Mux, ResetSignal, Signal, signed, unsigned
from amaranth.lib import data, stream
from amaranth.lib.wiring import In, Out

from golden.bitlet import BitletConfig
from hw.base import Component
from hw.bitlet.fp32 import ESUM_WIDTH, MAN_WIDTH, Fp32Align, Fp32Decode, Fp32Repack
from hw.bitlet.lanes import BitletLanes
from hw.bitlet.mac import BitletMAC
from hw.pe import CYCLE_COUNTER_WIDTH

__all__ = ["pass_layout", "result_layout", "BitletStaging", "BitletAlign", "BitletCompute", "BitletRepack"]


def pass_layout(config: BitletConfig, *, esum: bool = False) -> data.StructLayout:
    """One pass between two stages: per pair ``w`` (the weight magnitude, fp32: mantissa, and the sign
    folded into the activation: the weight's, fp32 ``Wsign ^ Asign``; in fixed point this is the input's
    ``weights.w`` layout) and ``act`` (fp32: the mantissa), and the lane mask; fp32 adds the block
    exponent and the invalid flag, and before the alignment (``esum=True``) each pair's ``Esum``."""
    n, fp = config.n_total, config.mode == "fp32"
    fields = {"w": data.ArrayLayout(data.StructLayout({"mag": MAN_WIDTH if fp else config.n_channel,
                                                        "sign": 1}), n),
              "act": data.ArrayLayout(MAN_WIDTH if fp else signed(config.act_bits), n),
              "lane_mask": config.n_channel}
    if fp:
        fields.update({"emax": ESUM_WIDTH, "nonfinite": 1})
        if esum:
            fields["esum"] = data.ArrayLayout(ESUM_WIDTH, n)
    return data.StructLayout(fields)


def _whole(view, **fields):
    """``view.eq(...)`` of every field at once, in one assignment (a payload port driven piece by piece
    makes Icarus Verilog resolve the whole vector for every piece: many times slower)."""
    layout = view.shape()
    value = Cat(*(fields[name] for name, _ in layout))
    assert len(value) == layout.size and set(fields) == {name for name, _ in layout}
    return view.eq(value)


def result_layout(config: BitletConfig):
    """A pass's result register: the accumulator (fixed point: the PE's result), and in fp32 the block
    exponent and the invalid flag that the repack needs."""
    if config.mode == "fixed":
        return signed(config.acc_width)
    return data.StructLayout({"acc": signed(config.acc_width), "emax": ESUM_WIDTH, "nonfinite": 1})


class BitletStaging(Component):
    """The PE's input beats (``i``, payload ``beat_layout``) to whole passes (``o``, :func:`pass_layout`)."""

    def __init__(self, config: BitletConfig, beat_layout):
        self.config = config
        super().__init__({"i": In(stream.Signature(beat_layout)),
                          "o": Out(stream.Signature(pass_layout(config, esum=config.mode == "fp32"))),
                          "clear": In(1)})

    def elaborate(self, platform):
        m = Module()
        cfg = self.config
        ni, L = cfg.n_input, cfg.load_cycles
        fp = cfg.mode == "fp32"
        flush, last_beat, accept = Signal(), Signal(), Signal()
        beat = Signal(range(L)) if L > 1 else None       # index of the beat on the input
        m.d.comb += [
            flush.eq(self.clear | ResetSignal()),
            last_beat.eq(1 if beat is None else beat == L - 1),
            accept.eq(self.i.valid & self.i.ready),
        ]
        if beat is not None:
            with m.If(accept):
                m.d.sync += beat.eq(Mux(last_beat, 0, beat + 1))

        # the staging buffer: one register of whole beats (fixed: beats 0 .. L-2 as the input holds them;
        # fp32: beats 0 .. L-1 decoded), so that each stage's output has few drivers
        w_in, a_in = self.i.payload.weights.w, self.i.payload.acts
        p = self.o.payload
        n_staged = (L if fp else L - 1) * ni
        if fp:
            m.submodules.decode = dec = Fp32Decode(ni, registered=True)    # emax a cycle later
            m.d.comb += dec.en.eq(accept)
            m.d.comb += [x for j in range(ni) for x in (dec.w[j].eq(w_in[j]), dec.a[j].eq(a_in[j]))]
            held = Signal(data.StructLayout({"w": p.w.shape(), "act": p.act.shape(), "esum": p.esum.shape()}))
            for k in range(L):
                with m.If(accept & ((beat == k) if beat is not None else 1)):
                    for j in range(ni):
                        i = k * ni + j
                        m.d.sync += [held.w[i].mag.eq(dec.wman[j]), held.w[i].sign.eq(dec.neg[j]),
                                     held.act[i].eq(dec.aman[j]), held.esum[i].eq(dec.esum[j])]
        elif n_staged:
            held_w = Signal(data.ArrayLayout(w_in.shape().elem_shape, n_staged))
            held_act = Signal(data.ArrayLayout(a_in.shape().elem_shape, n_staged))
            beat_bits = (len(w_in.as_value()), len(a_in.as_value()))
            for k in range(L - 1):
                with m.If(accept & (beat == k)):
                    m.d.sync += [held_w.as_value().word_select(k, beat_bits[0]).eq(w_in),
                                 held_act.as_value().word_select(k, beat_bits[1]).eq(a_in)]
            # the whole pass: the staged beats and the beat on the input
            m.d.comb += _whole(p, w=Cat(held_w, w_in), act=Cat(held_act, a_in),
                               lane_mask=self.i.payload.weights.lane_mask)
        else:
            m.d.comb += _whole(p, w=w_in, act=a_in, lane_mask=self.i.payload.weights.lane_mask)

        if not fp:
            m.d.comb += [
                self.o.valid.eq(~flush & self.i.valid & last_beat),
                self.i.ready.eq(~flush & (~last_beat | self.o.ready)),
            ]
        else:
            # the pass is pending from the cycle after its last beat (``took_last``: the decoder's max tree
            # adds the last beat to the running maximum) and offered from the next (``emax_ready``)
            took, took_last, emax_ready = Signal(), Signal(), Signal()
            run_emax, beat_emax, pend_emax = Signal(ESUM_WIDTH), Signal(ESUM_WIDTH), Signal(ESUM_WIDTH)
            run_nonfinite, pend_nonfinite = Signal(), Signal()
            pend_mask = Signal(cfg.n_channel)
            move = Signal()
            m.d.comb += [
                move.eq(self.o.valid & self.o.ready),
                self.o.valid.eq(emax_ready),
                self.i.ready.eq(~flush & (~(took_last | emax_ready) | move)),
                beat_emax.eq(Mux(run_emax > dec.emax, run_emax, dec.emax)),
                _whole(p, w=held.w, act=held.act, esum=held.esum, lane_mask=pend_mask, emax=pend_emax,
                       nonfinite=pend_nonfinite),
            ]
            m.d.sync += [took.eq(accept), took_last.eq(accept & last_beat)]
            with m.If(move):
                m.d.sync += emax_ready.eq(0)
            with m.If(took):
                m.d.sync += [run_emax.eq(beat_emax), run_nonfinite.eq(run_nonfinite | dec.nonfinite)]
            with m.If(took_last):
                m.d.sync += [pend_emax.eq(beat_emax), pend_nonfinite.eq(run_nonfinite | dec.nonfinite),
                             emax_ready.eq(1)]
            with m.If(took_last | self.clear):
                m.d.sync += [run_emax.eq(0), run_nonfinite.eq(0)]
            with m.If(accept & last_beat):
                m.d.sync += pend_mask.eq(self.i.payload.weights.lane_mask)
            with m.If(self.clear):                # (no beat is accepted during clear: took stays 0)
                m.d.sync += emax_ready.eq(0)
        if beat is not None:
            with m.If(self.clear):
                m.d.sync += beat.eq(0)
        return m


class BitletAlign(Component):
    """fp32: the aligned registers, from a pass with its ``Esum`` (``i``) to the aligned pass (``o``)."""

    def __init__(self, config: BitletConfig):
        self.config = config
        super().__init__({"i": In(stream.Signature(pass_layout(config, esum=True))),
                          "o": Out(stream.Signature(pass_layout(config))), "clear": In(1)})

    def elaborate(self, platform):
        m = Module()
        n = self.config.n_total
        src, dst = self.i.payload, self.o.payload
        full = Signal()
        m.submodules.align = align = Fp32Align(n)
        m.d.comb += [align.wman[i].eq(src.w[i].mag) for i in range(n)]
        m.d.comb += [align.esum[i].eq(src.esum[i]) for i in range(n)]
        m.d.comb += [align.emax.eq(src.emax), self.i.ready.eq(~full), self.o.valid.eq(full)]
        with m.If(self.i.valid & self.i.ready):
            m.d.sync += [dst.w[i].mag.eq(align.walign[i]) for i in range(n)]
            m.d.sync += [dst.w[i].sign.eq(src.w[i].sign) for i in range(n)]
            m.d.sync += [dst.act.eq(src.act), dst.emax.eq(src.emax), dst.nonfinite.eq(src.nonfinite),
                         dst.lane_mask.eq(src.lane_mask)]
        with m.If(self.o.valid & self.o.ready):
            m.d.sync += full.eq(0)
        with m.If(self.i.valid & self.i.ready):    # (never with the above: it needs them empty)
            m.d.sync += full.eq(1)
        with m.If(self.clear):
            m.d.sync += full.eq(0)
        return m


class BitletCompute(Component):
    """Lane schedulers and MAC: a pass (``i``, :func:`pass_layout`) to its result register (``o``,
    :func:`result_layout`); ``cycles`` counts the compute steps."""

    def __init__(self, config: BitletConfig):
        self.config = config
        super().__init__({"i": In(stream.Signature(pass_layout(config))),
                          "o": Out(stream.Signature(result_layout(config))),
                          "clear": In(1), "cycles": Out(CYCLE_COUNTER_WIDTH)})

    def elaborate(self, platform):
        m = Module()
        cfg = self.config
        n, nch = cfg.n_total, cfg.n_channel
        fp = cfg.mode == "fp32"
        p = self.i.payload
        res_free = Signal()      # the result register can be written this cycle
        hold = Signal()          # the accumulate stage holds a pass's last step that cannot be written
        load = Signal()          # a pass enters the compute registers

        m.submodules.lanes = lanes = BitletLanes(cfg)
        m.submodules.mac = mac = BitletMAC(n, nch, cfg.act_bits, not fp, cfg.acc_width)
        m.d.comb += [
            res_free.eq(~self.o.valid | self.o.ready),
            hold.eq(mac.finishing & ~res_free),
            self.i.ready.eq(lanes.ready),
            load.eq(self.i.valid & self.i.ready),
        ]

        # the activations wait in registers; the weights live in the lanes (columns and signs)
        acts = [Signal(p.act[i].shape(), name=f"act{i}") for i in range(n)]
        with m.If(load):
            m.d.sync += [acts[i].eq(p.act[i]) for i in range(n)]
        m.d.comb += [lanes.columns[g].eq(Cat(*[p.w[i].mag[g] for i in range(n)])) for g in range(nch)]
        m.d.comb += [lanes.signs.eq(Cat(*[p.w[i].sign for i in range(n)])), lanes.lane_mask.eq(p.lane_mask),
                     lanes.load.eq(load), lanes.hold.eq(hold), lanes.clear.eq(self.clear)]
        m.d.comb += [mac.sel[g].eq(lanes.sel[g]) for g in range(nch)]
        m.d.comb += [mac.neg[g].eq(lanes.neg[g]) for g in range(nch)]
        m.d.comb += [mac.acts[i].eq(acts[i]) for i in range(n)]
        m.d.comb += [mac.step.eq(lanes.active), mac.first.eq(lanes.first), mac.last.eq(lanes.last),
                     mac.hold.eq(hold), mac.clear.eq(self.clear)]

        # the result register
        with m.If(res_free):
            m.d.sync += self.o.valid.eq(mac.finishing)
        if fp:                   # the block exponent and the invalid flag travel with the pass's last step
            emax, nonfinite = Signal(ESUM_WIDTH), Signal()
            with m.If(load):
                m.d.sync += [emax.eq(p.emax), nonfinite.eq(p.nonfinite)]
            for k in range(BitletMAC.latency):
                e_k, f_k = Signal(ESUM_WIDTH, name=f"emax_d{k}"), Signal(name=f"nonfinite_d{k}")
                with m.If(~hold):
                    m.d.sync += [e_k.eq(emax), f_k.eq(nonfinite)]
                emax, nonfinite = e_k, f_k
            with m.If(mac.finishing & res_free):
                m.d.sync += [self.o.payload.acc.eq(mac.acc_next), self.o.payload.emax.eq(emax),
                             self.o.payload.nonfinite.eq(nonfinite)]
        else:
            with m.If(mac.finishing & res_free):
                m.d.sync += self.o.payload.eq(mac.acc_next)

        with m.If(lanes.active):
            m.d.sync += self.cycles.eq(self.cycles + 1)
        with m.If(self.clear):
            m.d.sync += [self.o.valid.eq(0), self.cycles.eq(0)]
        return m


class BitletRepack(Component):
    """fp32: a result register (``i``) to its IEEE binary32 bit pattern (``o``: the repack's stage register)."""

    def __init__(self, config: BitletConfig):
        self.config = config
        super().__init__({"i": In(stream.Signature(result_layout(config))),
                          "o": Out(stream.Signature(unsigned(32))), "clear": In(1)})

    def elaborate(self, platform):
        m = Module()
        m.submodules.repack = repack = Fp32Repack(self.config.acc_width, registered=True)
        m.d.comb += [
            repack.acc.eq(self.i.payload.acc), repack.emax.eq(self.i.payload.emax),
            repack.nonfinite.eq(self.i.payload.nonfinite), self.o.payload.eq(repack.bits),
            self.i.ready.eq(~self.o.valid | self.o.ready),
            repack.en.eq(self.i.valid & self.i.ready),
        ]
        with m.If(self.i.ready):
            m.d.sync += self.o.valid.eq(self.i.valid)
        with m.If(self.clear):
            m.d.sync += self.o.valid.eq(0)
        return m
