"""Bitlet PE: bit interleaving over a window of ``n_total`` pairs, fixed point 1-24 bit and fp32.

Lu et al., MICRO 2021; docs/bitlet.md; golden model :mod:`golden.bitlet` (read its docstring for
every decision about denormals, zeros, truncation, overflow). For each bit significance ``g`` (a *lane*)
the PE adds the sign-folded activations of the pairs whose weight magnitude has a one at ``g``, one
essential bit per lane per cycle, so the work follows the ones per significance, not per weight:

    result = sum_g (sum_{i: bit g of m_i} a'_i) << g,       a'_i = sign(w_i) * a_i

Modes (generator parameter ``mode``)
------------------------------------
``"fixed"``
    Sign-magnitude weights with ``n_channel``-bit magnitudes; ``act_bits``-bit two's-complement
    activations (25 = the RTL's symmetric ``[-(2**24 - 1), 2**24 - 1]``, see
    :class:`golden.bitlet.BitletConfig`). The result is the exact integer accumulator
    (``BitletConfig.acc_width`` bits), equal to :func:`golden.bitlet.dot_fixed` ``(w, a, bits=n_channel,
    lane_mask=lane_mask)``. Choice: the RTL's fixed postprocessor (``quant`` shift and 25-bit saturation,
    :func:`golden.bitlet.pack_fixed`) is left to the consumer, as for every other PE of this library
    (exact dot products).
``"fp32"`` (``n_channel = 24``)
    IEEE binary32 weights and activations. Exponent addition, a max tree, truncating alignment of the
    weight mantissas to the maximum exponent, the same lanes on the aligned mantissas, exact block
    accumulation, repack to binary32 through a leading-one detector with underflow (IEEE denormals,
    truncated) and overflow (``+-inf``): bit-exact :func:`golden.bitlet.dot_fp32` ``(w, a,
    lane_mask=lane_mask, nonfinite="nan")``. Choice: a NaN or infinite operand (which the golden model
    otherwise refuses and the RTL would misread as a number) removes its pair like an exact zero and
    makes the pass's result the quiet NaN ``0x7FC00000``; no other result is a NaN, so it doubles as
    an *invalid* flag. Blocks: :mod:`hw.bitlet.fp32`.

Lane mask
---------
Every pass carries an ``n_channel``-bit lane mask (the RTL's ``prune``): a disabled lane never runs and
contributes nothing, so ``precision_mask(p)`` sets the fixed-point precision to ``p`` bits (1..24) at
run time, or prunes mantissa LSBs in fp32. Per lane, the check-window scheduler of
:class:`hw.bitlet.lane.BitletLane` (one essential bit per cycle, one cycle per empty ``n_check``
window); each lane's one-hot select picks its activation through an ``n_total``:1 AND-OR in
:class:`hw.bitlet.mac.BitletMAC`; the pass ends when every
enabled lane is done, after ``max(1, golden.bitlet.pass_cycles(...))`` steps (one step when no lane is
enabled).

Ports: the streaming contract of :mod:`hw.pe`, with one input transaction = one **beat** of
``n_input`` pairs (the RTL loads ``N_input`` pairs per cycle) and one output transaction per pass:

``i.payload.weights``
    ``{"w": ArrayLayout(W, n_input), "lane_mask": unsigned(n_channel)}`` with ``W`` =
    ``{"mag": unsigned(n_channel), "sign": unsigned(1)}`` (fixed, sign-magnitude) or ``unsigned(32)``
    (fp32 bit pattern). ``lane_mask`` is read from the pass's **last** beat only.
``i.payload.acts``
    ``ArrayLayout(signed(act_bits), n_input)`` (fixed) or ``ArrayLayout(signed(32), n_input)`` holding
    binary32 bit patterns (fp32).
``o.payload``
    ``signed(acc_width)`` (fixed) or the binary32 bit pattern in ``signed(32)`` (fp32).
``clear``, ``cycles``
    As in :mod:`hw.pe`; ``clear`` also drops a partly loaded pass (the next beat is beat 0) and,
    in fp32, a pending one.
    ``cycles`` counts compute steps: its increase per pass is ``max(1, pass_cycles)``, the lane model.

A pass is ``L = n_total / n_input`` consecutive beats, pair ``k * n_input + j`` = lane ``j`` of beat ``k``.

Timing (exact; golden :func:`golden.bitlet.pe_stream_timing`)
-------------------------------------------------------------
Register stages: a *staging* buffer for beats ``0 .. L-2`` (fixed) or for the whole pass (fp32, the
*align stage*); for fp32 the *aligned* registers (the pass with its weight mantissas aligned to its
block exponent); the *compute* registers (the activations, the weight signs, the lane schedulers' columns
and their first decisions and, for fp32, the block exponent); then the MAC's stages
(:class:`hw.bitlet.mac.BitletMAC`: the selected, folded lane values, the lane sum, the accumulator);
the result register; for fp32 the repack's stage register.

Fixed point: beats ``0 .. L-2`` are accepted whenever offered (the staging buffer only ever holds the
pass being loaded). The last beat is accepted only when the compute stage can take a pass (idle, or in
its last step); in that cycle the whole pass -- staged beats plus the last beat -- is written into the
compute registers. fp32: every beat goes into the staging buffer; after its last beat the pass is
*pending*, the buffer takes no beat until the pass moves, aligned to its block exponent (``max`` of all
its ``Esum``), into the aligned registers, which happens in the first cycle in which they are empty
(from the cycle after their pass entered the compute registers; so the input's ``ready`` comes from
registers) -- at the earliest two cycles after the last beat: the decoder registers each beat's ``Esum``
and its max tree adds them to the running maximum in the following cycle.
The buffer takes the next pass's first beat in the cycle the pass moves. From the aligned registers a
pass enters the compute registers in the first cycle in which the compute stage can take it.

A pass then takes ``steps = max(1, pass_cycles)`` cycles; each step reaches the accumulator two cycles
later, so the result register is written two cycles after the last step and ``o.valid`` rises one cycle
after that (fixed: the result register is the output) or two (fp32: the repack's stage register is the
output). Hence, input always valid and output always ready, consecutive passes enter the compute
registers ``max(steps, L)`` (fixed) or at most ``max(steps, L + 1)`` (fp32) cycles apart and each result
appears ``steps + 3`` (fixed) or ``steps + 4`` (fp32) cycles after that: the overhead over the lane model
is **zero** when ``n_input >= n_check`` (fixed: ``steps >= ceil(n_total / n_check) >= L``) or when
``ceil(n_total / n_check) > L`` (fp32; the paper's 64 pairs in beats of 16 with an 8-bit window: 8 > 4).
Latency of the first pass from its first beat: ``L + steps + 2`` (fixed), ``L + steps + 6`` (fp32).
The output holds while ``o.valid & ~o.ready``; a result behind it waits in the result register (fp32),
and when the accumulate stage then holds a pass's last step that cannot be written, everything waits
(no step, no pass enters the compute registers).

Choices (docs/bitlet.md): the lane schedulers decide one step ahead and register their decisions, and the
MAC registers the selected values and the lane sum, so no path crosses the select and the adders
(the earlier single-cycle compute step ran at 16.6 MHz on iCE40 at 16 pairs); the cycle count stays
exactly the lane model, the latency grows by two cycles. The fp32 alignment (all ``n_total`` mantissas
at once, where the RTL aligns 8 per cycle) runs from the align stage's registers into the aligned
registers, and the decoder (:class:`hw.bitlet.fp32.Fp32Decode`, ``registered=True``) registers each
beat's ``Esum`` before its max tree: the input path ends after the decode, the max tree starts at
registers, the alignment starts and ends at registers, and the lanes' first decisions start at the
aligned registers (before, the decode, the max tree, the alignment and the first decisions were one
path from the input); this costs three cycles of latency, no throughput when ``ceil(n_total / n_check)
> L``, ``n_input`` more pairs of staging registers and a pass's worth of aligned registers. The repack
(:class:`hw.bitlet.fp32.Fp32Repack`, ``registered=True``) has its stage register after the leading-one
detector; ``o.payload`` is packed from it (the two shifts: a register-to-port path), one cycle of latency
more. ``n_valid`` is fixed to ``n_total``: shorter groups are zero-padded.

Choice, sign folding: each pair keeps its activation (fixed: as given; fp32: the 24-bit mantissa); the sign
of its product (the weight's sign; fp32 ``Wsign ^ Asign``) goes to the lane schedulers, which register
the selected pair's sign with each decision. The MAC folds it in ones' complement, ``x_g = act ^ -neg``
(``= -act - 1`` when negative, still ``act_bits`` wide), with the missing ``+1`` of every lane collected
as one ``n_channel``-bit word ``sum_g neg_g << g`` that enters the lane sum as an extra term. So there
is no negator per pair (the RTL negates at load time), and the select is ``act_bits`` wide.

Widths: the accumulator and the fixed result have ``BitletConfig.acc_width`` bits (the exact worst case of
a pass; every partial sum is bounded by it as well). The per-cycle lane sum ``sum_g x_g << g`` goes
through :class:`hw.bitlet.psum.ShiftedSum`, an adder tree whose nodes are sized by their exact range and
significance (the uniform :class:`hw.blocks.adder_tree.AdderTree` on the shifted terms takes 2.7x the LUTs).

Cost: measured by ``make synth`` (``build/reports/pe.json``, README): the MAC datapath
(:class:`hw.bitlet.mac.BitletMAC`, the one-hot selects) is about half of the INT8 16-pair PE, the lane
schedulers most of the rest.
"""

from __future__ import annotations

from amaranth.hdl import Cat, Module, Mux, Signal, signed
from amaranth.lib import data

from golden.bitlet import BitletConfig
from golden.check import check_int
from hw.base import Component
from hw.bitlet.fp32 import ESUM_WIDTH, MAN_WIDTH, Fp32Align, Fp32Decode, Fp32Repack
from hw.bitlet.lane import BitletLane
from hw.bitlet.mac import BitletMAC
from hw.pe import pe_ports

__all__ = ["BitletPE"]


class BitletPE(Component):
    """Bitlet bit-interleaving PE.

    Parameters
    ----------
    n_total : int
        Pairs per pass (the interleaving window), 1..64 (64 in the paper).
    n_input : int
        Pairs per input beat; divides ``n_total``.
    n_channel : int
        Significance lanes = weight magnitude bits, 1..24 (24 in fp32 mode).
    n_check : int
        Window bits per lane per cycle, 1..64 (8 in the paper).
    mode : "fixed" or "fp32"
    act_bits : int
        Fixed-point activation width, 2..25 (25 in fp32 mode).

    Ports: see the module docstring.
    """

    def __init__(self, n_total: int = 64, n_input: int = 16, n_channel: int = 24, n_check: int = 8,
                 mode: str = "fixed", act_bits: int = 25):
        self.config = BitletConfig(n_total=n_total, n_input=n_input, n_channel=n_channel,
                                   n_check=n_check, mode=mode, act_bits=act_bits)
        cfg = self.config
        super().__init__(pe_ports(self.weights_layout(cfg), lanes=cfg.n_input,
                                  act_bits=self.input_act_bits(cfg), result_width=self.result_width(cfg)))

    # -- layouts, usable without constructing the component ---------------------------------------

    @staticmethod
    def weights_layout(cfg: BitletConfig) -> data.StructLayout:
        if cfg.mode == "fixed":
            w = data.StructLayout({"mag": cfg.n_channel, "sign": 1})
        else:
            w = 32
        return data.StructLayout({"w": data.ArrayLayout(w, cfg.n_input), "lane_mask": cfg.n_channel})

    @staticmethod
    def input_act_bits(cfg: BitletConfig) -> int:
        return cfg.act_bits if cfg.mode == "fixed" else 32

    @staticmethod
    def result_width(cfg: BitletConfig) -> int:
        return cfg.acc_width if cfg.mode == "fixed" else 32

    @staticmethod
    def beat_payloads(cfg: BitletConfig, w, a, lane_mask: int) -> list[dict]:
        """The ``L`` input beats of one pass as payload dicts (for ``input_layout(...).const``).

        ``w``, ``a``: ``n_total`` values each: signed integers (fixed) or binary32 bit patterns
        (unsigned ints, fp32). ``lane_mask`` goes into the last beat, the other beats carry 0 (the PE
        reads the last beat's field only; the tests rely on this to prove it).
        """
        n, ni = cfg.n_total, cfg.n_input
        check_int("lane_mask", lane_mask, lo=0, hi=cfg.full_lane_mask)
        if len(w) != n or len(a) != n:
            raise ValueError(f"w and a must have n_total={n} values, got {len(w)} and {len(a)}")
        beats = []
        for k in range(cfg.load_cycles):
            ws = [int(v) for v in w[k * ni:(k + 1) * ni]]
            acts = [int(v) for v in a[k * ni:(k + 1) * ni]]
            if cfg.mode == "fixed":
                ws = [{"mag": abs(v), "sign": int(v < 0)} for v in ws]
            else:
                acts = [v - (1 << 32) if v >= 1 << 31 else v for v in acts]   # signed(32) fields
            mask = lane_mask if k == cfg.load_cycles - 1 else 0
            beats.append({"weights": {"w": ws, "lane_mask": mask}, "acts": acts})
        return beats

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
                self.i.ready.eq(~self.clear & (~(took_last | emax_ready) | move)),
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
                self.i.ready.eq(~self.clear & (~last_beat | free)),
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
