"""Bitlet PE: bit interleaving over passes of ``n_total`` pairs, fixed point (1-24 bit) and fp32.

Lu et al., MICRO 2021; docs/bitlet.md; golden model :mod:`golden.bitlet`. Lane ``g`` (one per weight
magnitude bit, ``n_channel``) adds the sign-folded activations of the pairs whose magnitude (fp32: aligned
mantissa) has a one at bit ``g``, one essential bit per lane per cycle, chosen by its check-window
scheduler (:class:`hw.bitlet.lane.BitletLane`): ``result = sum_g (sum_{i: bit g of m_i} a'_i) << g``.
Fixed point: the exact integer of :func:`golden.bitlet.dot_fixed`; fp32: the binary32 result of
:func:`golden.bitlet.dot_fp32` ``(..., nonfinite="nan")``, bit for bit (blocks: :mod:`hw.bitlet.fp32`).

Ports: the contract of :mod:`hw.pe`. One input transaction is a *beat* of ``n_input`` pairs; a pass is
``L = n_total / n_input`` beats (pair ``k * n_input + j`` is lane ``j`` of beat ``k``) and its lane mask
(the RTL's ``prune``: a disabled lane never runs) is read from its last beat; one output transaction per
pass. :meth:`BitletPE.payloads` / :meth:`BitletPE.unpack` are the codec. ``clear`` also drops a partly
loaded pass. ``cycles`` counts ``steps = max(1, golden.bitlet.pass_cycles)`` per pass (the lane model).

Throughput and latency, exact (:func:`golden.bitlet.pe_stream_timing`): passes enter the compute stage
``max(steps, L)`` (fixed) or at most ``max(steps, L + 1)`` (fp32) cycles apart; a pass whose last beat is
accepted in cycle ``t`` is valid in cycle ``t + steps + latency`` when nothing waits (3 fixed, 7 fp32).

Choice: decisions and lane values are registered (lanes one step ahead, two MAC stages), so no path
crosses both the select and an adder; fp32 also registers the exponent sums, the aligned pass and the
repack's middle. Choice: signs are folded in ones' complement after the select (no negator per pair).
Choice: a NaN or infinite operand removes its pair and makes the result the quiet NaN ``0x7FC00000``.
Choice: the fixed postprocessor (``quant``, saturation) is left to the consumer; ``n_valid = n_total``.
"""

from __future__ import annotations

import numpy as np
from amaranth.hdl import Cat, Module, Mux, ResetSignal, Signal, signed, unsigned
from amaranth.lib import data

from golden.bitlet import BitletConfig
from golden.check import check_int, check_int_array
from hw.bitlet.fp32 import ESUM_WIDTH, MAN_WIDTH, Fp32Align, Fp32Decode, Fp32Repack
from hw.bitlet.lane import BitletLane
from hw.bitlet.mac import BitletMAC
from hw.pe import PE

__all__ = ["BitletPE"]

_WORD = (1 << 32) - 1


class BitletPE(PE):
    """Bitlet bit-interleaving PE, built from a :class:`~golden.bitlet.BitletConfig` (every limit is the
    configuration's own: ``n_total`` 1..64, ``n_channel`` 1..24, ...). Ports: the module docstring."""

    config_class = BitletConfig
    field_meanings = {
        "weights.w[i].mag": "weight magnitude of pair i of this beat (sign-magnitude)",
        "weights.w[i].sign": "weight sign of pair i of this beat (1: negative)",
        "weights.w[i]": "weight of pair i of this beat, IEEE binary32 bit pattern",
        "weights.lane_mask": "lane g runs when bit g is set; read from the pass's last beat only",
        "acts[i]": "activation of pair i of this beat, two's complement",
    }
    #: fp32 mode: the meanings that differ from :attr:`field_meanings`
    fp32_field_meanings = {"acts[i]": "activation of pair i of this beat, IEEE binary32 bit pattern"}

    @classmethod
    def payload_fields(cls, config):
        fields = super().payload_fields(config)
        if config.mode == "fp32":
            fields = [f._replace(meaning=cls.fp32_field_meanings.get(f.name, f.meaning)) for f in fields]
        return fields

    @property
    def result_meaning(self) -> str:
        return ("the pass's IEEE binary32 result, truncated (golden.bitlet.dot_fp32)" if self.fp32
                else "the pass's exact dot product")

    @classmethod
    def weights_layout(cls, config) -> data.StructLayout:
        w = data.StructLayout({"mag": config.n_channel, "sign": 1}) if config.mode == "fixed" else 32
        return data.StructLayout({"w": data.ArrayLayout(w, config.n_input), "lane_mask": config.n_channel})

    @property
    def fp32(self) -> bool:
        return self.config.mode == "fp32"

    @property
    def input_lanes(self) -> int:
        return self.config.n_input

    @property
    def input_act_bits(self) -> int:
        return 32 if self.fp32 else self.config.act_bits

    @property
    def result_shape(self):
        return unsigned(32) if self.fp32 else signed(self.config.acc_width)

    @property
    def max_steps(self) -> int:
        """A pass takes at most ``n_total`` steps (a lane selects at least one pair per step)."""
        return self.config.n_total

    @property
    def latency(self) -> int:
        """From the cycle a pass's last beat is accepted, when nothing waits: ``steps + latency``
        cycles to its ``o.valid``. Fixed: the MAC's stages and the result register. fp32 adds the
        decoder's exponent registers, the move into the aligned registers, the compute registers (one
        cycle each) and the repack's stage register."""
        return BitletMAC.latency + 1 + (4 if self.fp32 else 0)

    # -- the payload API ---------------------------------------------------------------------------

    def _operands(self, name, x) -> np.ndarray:
        """``weights`` / ``acts`` as a ``[passes, n_total]`` int64 array (fp32: the bit patterns)."""
        cfg = self.config
        if self.fp32:
            arr = np.asarray(x)
            if arr.dtype == np.float32:
                arr = arr.view(np.uint32)
            elif not np.issubdtype(arr.dtype, np.unsignedinteger):
                raise TypeError(f"{name} must be a float32 array or its binary32 bit patterns (an unsigned "
                                f"integer array), got dtype {arr.dtype} (convert with .astype(np.float32))")
            lo, hi = 0, _WORD
        else:
            arr = x
            lo, hi = (-cfg.weight_max, cfg.weight_max) if name == "weights" else cfg.act_range
        arr = check_int_array(name, arr, lo=lo, hi=hi, ndim=2)
        if arr.shape[1] != cfg.n_total:
            raise ValueError(f"{name} must have n_total={cfg.n_total} values per pass (last axis), "
                             f"got shape {arr.shape}")
        return arr

    def payloads(self, weights, acts, lane_mask=None) -> list[dict]:
        """The input beats of the passes ``weights``, ``acts`` (``[passes, n_total]`` each), as payload dicts.

        Fixed point: signed integers (weights in ``[-weight_max, weight_max]``, sent in sign-magnitude;
        activations in ``config.act_range``). fp32: float32 arrays or their binary32 bit patterns
        (unsigned integers). ``lane_mask``: one integer for every pass or one per pass (default: every
        lane); it goes into each pass's last beat, the other beats carry 0 (the PE reads the last
        beat's field only, and the tests rely on this to prove it).
        """
        cfg = self.config
        w, a = self._operands("weights", weights), self._operands("acts", acts)
        if w.shape != a.shape:
            raise ValueError(f"weights and acts must have the same shape, got {w.shape} and {a.shape}")
        if lane_mask is None:
            masks = [cfg.full_lane_mask] * len(w)
        elif np.ndim(lane_mask) == 0:
            masks = [check_int("lane_mask", lane_mask, lo=0, hi=cfg.full_lane_mask)] * len(w)
        else:
            if len(lane_mask) != len(w):
                raise ValueError(f"lane_mask must be one integer or one per pass ({len(w)} passes), "
                                 f"got {len(lane_mask)} values")
            masks = [check_int(f"lane_mask[{p}]", m, lo=0, hi=cfg.full_lane_mask) for p, m in enumerate(lane_mask)]
        ni, L = cfg.n_input, cfg.load_cycles
        beats = []
        for p in range(len(w)):
            for k in range(L):
                ws = [int(v) for v in w[p, k * ni:(k + 1) * ni]]
                xs = [int(v) for v in a[p, k * ni:(k + 1) * ni]]
                if self.fp32:
                    xs = [v - (1 << 32) if v >> 31 else v for v in xs]      # signed(32) fields
                else:
                    ws = [{"mag": abs(v), "sign": int(v < 0)} for v in ws]
                beats.append({"weights": {"w": ws, "lane_mask": masks[p] if k == L - 1 else 0}, "acts": xs})
        return beats

    def unpack(self, word: int):
        """Fixed point: the signed result; fp32: the result as an ``np.float32`` (compare results by their
        bit patterns, ``value.view(np.uint32)``: NaN-safe and bit-exact)."""
        if not self.fp32:
            return super().unpack(word)
        return np.uint32(check_int("word", word, lo=0, hi=_WORD)).view(np.float32)

    # -- hardware ---------------------------------------------------------------------------------

    def elaborate(self, platform):
        m = Module()
        cfg = self.config
        n, ni, nch, L = cfg.n_total, cfg.n_input, cfg.n_channel, cfg.load_cycles
        fp = cfg.mode == "fp32"
        mag_w = MAN_WIDTH if fp else nch

        # ---- control ----------------------------------------------------------------------------
        busy = Signal()          # the compute registers hold a pass that is not finished
        first = Signal()         # next step is the pass's first (the accumulator restarts)
        at_end = Signal()
        out_free = Signal()
        last = Signal()          # the pass's last step: write the result register
        active = Signal()        # a step executes this cycle
        last_beat = Signal()     # the beat on the input is the pass's last
        accept = Signal()
        load = Signal()          # the pass moves into the compute registers
        beat = Signal(range(L)) if L > 1 else None

        lanes = []
        for g in range(nch):
            lane = BitletLane(n, cfg.n_check)
            m.submodules[f"lane{g}"] = lane
            lanes.append(lane)
        all_done = Cat(*[lane.done for lane in lanes]).all()

        # the MAC's accumulate stage writes a pass's result register (fixed: the output register; fp32:
        # the register before the repack's stage); it waits while that register holds an unread result,
        # and everything waits with it
        m.submodules.mac = mac = BitletMAC(n, nch, cfg.act_bits, not fp, cfg.acc_width)
        hold = Signal()
        free = Signal()          # the compute stage can take a pass this cycle (idle or last step)
        res_free = Signal()      # the result register can be written this cycle
        if fp:
            res_valid = Signal()
            m.d.comb += res_free.eq(~res_valid | out_free)
        else:
            m.d.comb += res_free.eq(out_free)
        m.d.comb += [
            at_end.eq(busy & all_done),
            out_free.eq(~self.o.valid | self.o.ready),
            hold.eq(mac.finishing & ~res_free),
            last.eq(at_end & ~hold),
            active.eq(busy & ~hold),
            free.eq(~busy | last),
            last_beat.eq(1 if beat is None else beat == L - 1),
            accept.eq(self.i.valid & self.i.ready),
        ]
        if fp:
            # align stage: the whole pass waits in the staging buffer (pending) and moves, aligned, into
            # the aligned registers (``move``) in a later cycle; the buffer takes beats again from that
            # cycle. Pending = the cycle after its last beat (``took_last``: its block exponent is being
            # taken) and then ``emax_ready`` until it moves. From the aligned registers the pass moves
            # into the compute registers (``load``).
            took, took_last = Signal(), Signal()        # a beat / the last beat was accepted last cycle
            emax_ready = Signal()            # the pending pass's block exponent is in its register
            aligned_full = Signal()          # the aligned registers hold a pass
            move = Signal()
            m.d.comb += [
                move.eq(emax_ready & ~aligned_full),     # from registers: i.ready is too
                load.eq(aligned_full & free),
                self.i.ready.eq(~self.clear & ~ResetSignal() & (~(took_last | emax_ready) | move)),
            ]
            m.d.sync += [took.eq(accept), took_last.eq(accept & last_beat)]
            with m.If(move):
                m.d.sync += emax_ready.eq(0)
            with m.If(load):
                m.d.sync += aligned_full.eq(0)
            with m.If(move):                 # (never with load: move needs them empty, load full)
                m.d.sync += aligned_full.eq(1)
        else:
            m.d.comb += [
                self.i.ready.eq(~self.clear & ~ResetSignal() & (~last_beat | free)),
                load.eq(accept & last_beat),
            ]
        if beat is not None:
            with m.If(accept):
                m.d.sync += beat.eq(Mux(last_beat, 0, beat + 1))

        # ---- per-beat preprocessing (n_input pairs) ---------------------------------------------
        # each pair keeps its activation ``act`` (fixed: as given; fp32: the 24-bit mantissa) and the
        # sign ``neg`` to fold into it; the fold happens after the lanes' select muxes
        beat_esum = []
        if fp:
            m.submodules.decode = dec = Fp32Decode(ni, registered=True)    # emax a cycle later
            m.d.comb += dec.en.eq(accept)
            for j in range(ni):
                m.d.comb += [dec.w[j].eq(self.i.payload.weights.w[j]), dec.a[j].eq(self.i.payload.acts[j])]
            beat_mag = [dec.wman[j] for j in range(ni)]
            beat_act = [dec.aman[j] for j in range(ni)]
            beat_neg = [dec.neg[j] for j in range(ni)]
            beat_esum = [dec.esum[j] for j in range(ni)]
        else:
            beat_mag = [self.i.payload.weights.w[j].mag for j in range(ni)]
            beat_act = [self.i.payload.acts[j] for j in range(ni)]
            beat_neg = [self.i.payload.weights.w[j].sign for j in range(ni)]

        # ---- staging of beats 0 .. L-2 (fixed) or 0 .. L-1 (fp32, the align stage) ---------------
        act_shape = MAN_WIDTH if fp else signed(cfg.act_bits)
        n_staged = L if fp else L - 1
        stage_mag = [[Signal(mag_w, name=f"stage{k}_mag{j}") for j in range(ni)] for k in range(n_staged)]
        stage_act = [[Signal(act_shape, name=f"stage{k}_act{j}") for j in range(ni)] for k in range(n_staged)]
        stage_neg = [[Signal(name=f"stage{k}_neg{j}") for j in range(ni)] for k in range(n_staged)]
        stage_esum = [[Signal(ESUM_WIDTH, name=f"stage{k}_esum{j}") for j in range(ni)]
                      for k in range(n_staged)] if fp else []
        for k in range(n_staged):
            with m.If(accept & ((beat == k) if beat is not None else 1)):
                m.d.sync += [stage_mag[k][j].eq(beat_mag[j]) for j in range(ni)]
                m.d.sync += [stage_act[k][j].eq(beat_act[j]) for j in range(ni)]
                m.d.sync += [stage_neg[k][j].eq(beat_neg[j]) for j in range(ni)]
                if fp:
                    m.d.sync += [stage_esum[k][j].eq(beat_esum[j]) for j in range(ni)]

        def whole_pass(staged, current):
            if fp:                               # the pass is all in the staging buffer
                return [x for k in range(L) for x in staged[k]]
            return [x for k in range(L - 1) for x in staged[k]] + list(current)

        pass_mag = whole_pass(stage_mag, beat_mag)
        pass_act = whole_pass(stage_act, beat_act)
        pass_neg = whole_pass(stage_neg, beat_neg)

        # ---- fp32: block exponent and alignment -------------------------------------------------
        if fp:
            run_emax = Signal(ESUM_WIDTH)        # max Esum of the beats accepted so far of this pass
            run_nonfinite = Signal()
            beat_emax = Signal(ESUM_WIDTH)
            pend_emax = Signal(ESUM_WIDTH)       # block exponent and invalid flag of the pending pass
            pend_nonfinite = Signal()
            # the decoder's max tree works on the beat accepted in the previous cycle (``took``)
            m.d.comb += beat_emax.eq(Mux(run_emax > dec.emax, run_emax, dec.emax))
            with m.If(took):
                m.d.sync += [run_emax.eq(beat_emax), run_nonfinite.eq(run_nonfinite | dec.nonfinite)]
            with m.If(took_last):
                m.d.sync += [pend_emax.eq(beat_emax), pend_nonfinite.eq(run_nonfinite | dec.nonfinite),
                             emax_ready.eq(1)]
            with m.If(took_last | self.clear):
                m.d.sync += [run_emax.eq(0), run_nonfinite.eq(0)]
            m.submodules.align = align = Fp32Align(n)
            pass_esum = whole_pass(stage_esum, beat_esum)
            for i in range(n):
                m.d.comb += [align.wman[i].eq(pass_mag[i]), align.esum[i].eq(pass_esum[i])]
            m.d.comb += align.emax.eq(pend_emax)
            # the aligned registers: the pass, its weight mantissas aligned, between the staging buffer
            # and the compute registers (no path from the block exponent to the lanes' decisions)
            al_mag = [Signal(MAN_WIDTH, name=f"aligned_mag{i}") for i in range(n)]
            al_act = [Signal(act_shape, name=f"aligned_act{i}") for i in range(n)]
            al_neg = [Signal(name=f"aligned_neg{i}") for i in range(n)]
            al_emax, al_nonfinite = Signal(ESUM_WIDTH), Signal()
            with m.If(move):
                m.d.sync += [al_mag[i].eq(align.walign[i]) for i in range(n)]
                m.d.sync += [al_act[i].eq(pass_act[i]) for i in range(n)]
                m.d.sync += [al_neg[i].eq(pass_neg[i]) for i in range(n)]
                m.d.sync += [al_emax.eq(pend_emax), al_nonfinite.eq(pend_nonfinite)]
            pass_mag, pass_act, pass_neg = al_mag, al_act, al_neg
            emax = Signal(ESUM_WIDTH)            # compute-stage block exponent and invalid flag
            nonfinite = Signal()
            with m.If(load):
                m.d.sync += [emax.eq(al_emax), nonfinite.eq(al_nonfinite)]

        # ---- compute registers, lane schedulers and MAC ----------------------------------------
        # the activations wait in registers; the weights live in the lanes (columns) and in one sign
        # register, from which each lane registers its next decision a cycle ahead (hw/bitlet/lane.py)
        acts = [Signal(act_shape, name=f"act{i}") for i in range(n)]
        signs = Signal(n)
        with m.If(load):
            m.d.sync += [acts[i].eq(pass_act[i]) for i in range(n)]
            m.d.sync += signs.eq(Cat(*pass_neg))
        mask = self.i.payload.weights.lane_mask
        if fp:                                   # the pending pass's lane mask, from its last beat
            pend_mask = Signal(nch)
            al_mask = Signal(nch)
            with m.If(accept & last_beat):
                m.d.sync += pend_mask.eq(mask)
            with m.If(move):
                m.d.sync += al_mask.eq(pend_mask)
            mask = al_mask
        for g, lane in enumerate(lanes):
            m.d.comb += [
                lane.load.eq(load),
                lane.clear.eq(self.clear),
                lane.column.eq(Cat(*[pass_mag[i][g] for i in range(n)])),
                lane.signs.eq(Mux(load, Cat(*pass_neg), signs)),
                lane.enable.eq(mask[g]),
                lane.step.eq(active),
                mac.sel[g].eq(lane.sel),
                mac.neg[g].eq(lane.neg),
            ]
        m.d.comb += [mac.acts[i].eq(acts[i]) for i in range(n)]
        m.d.comb += [mac.step.eq(active), mac.first.eq(first), mac.last.eq(last), mac.hold.eq(hold),
                     mac.clear.eq(self.clear)]
        if fp:                                   # the block exponent travels with the pass's last step
            emax_d, nonfinite_d = emax, nonfinite
            for k in range(BitletMAC.latency):
                e_k, f_k = Signal(ESUM_WIDTH, name=f"emax_d{k}"), Signal(name=f"nonfinite_d{k}")
                with m.If(~hold):
                    m.d.sync += [e_k.eq(emax_d), f_k.eq(nonfinite_d)]
                emax_d, nonfinite_d = e_k, f_k

        cycles = self.cycles
        with m.If(self.o.valid & self.o.ready):
            m.d.sync += self.o.valid.eq(0)
        with m.If(active):
            m.d.sync += [first.eq(0), cycles.eq(cycles + 1)]
        with m.If(last):
            m.d.sync += busy.eq(0)
        if fp:
            # result register -> the repack's front half -> its stage register (= the output, o.valid)
            res_acc = Signal(signed(cfg.acc_width))
            res_emax = Signal(ESUM_WIDTH)
            res_nonfinite = Signal()
            m.submodules.repack = repack = Fp32Repack(cfg.acc_width, registered=True)
            m.d.comb += [repack.acc.eq(res_acc), repack.emax.eq(res_emax),
                         repack.nonfinite.eq(res_nonfinite), self.o.payload.eq(repack.bits),
                         repack.en.eq(out_free & res_valid)]
            with m.If(out_free):
                m.d.sync += self.o.valid.eq(res_valid)
            with m.If(res_free):
                m.d.sync += res_valid.eq(mac.finishing)
            with m.If(mac.finishing & res_free):
                m.d.sync += [res_acc.eq(mac.acc_next), res_emax.eq(emax_d), res_nonfinite.eq(nonfinite_d)]
        else:
            with m.If(mac.finishing & res_free):
                m.d.sync += [self.o.valid.eq(1), self.o.payload.eq(mac.acc_next)]
        with m.If(load):
            m.d.sync += [busy.eq(1), first.eq(1)]
        with m.If(self.clear):
            m.d.sync += [busy.eq(0), self.o.valid.eq(0), cycles.eq(0)]
            if beat is not None:
                m.d.sync += beat.eq(0)
            if fp:                               # (no beat is accepted during clear: took stays 0)
                m.d.sync += [emax_ready.eq(0), aligned_full.eq(0), res_valid.eq(0)]
        return m
