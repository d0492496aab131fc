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
Structure: stream stages joined by ``wiring.connect`` (:mod:`hw.bitlet.stages`): staging, fp32 align,
compute (the lanes and :class:`hw.bitlet.mac.BitletMAC`), fp32 repack; a pass per stream transfer.

Choice: decisions and lane values are registered (lanes one step ahead, two MAC stages), so no path
crosses both the select and an adder; fp32 also registers the exponent sums, the aligned pass and the
repack's middle. Choice: signs are folded in ones' complement after the select (no negator per pair).
Choice: a NaN or infinite operand removes its pair and makes the result the quiet NaN ``0x7FC00000``.
Choice: the fixed postprocessor (``quant``, saturation) is left to the consumer; ``n_valid = n_total``.
"""

from __future__ import annotations

import numpy as np
from amaranth.hdl import Module, signed, unsigned
from amaranth.lib import data
from amaranth.lib.wiring import connect, flipped

from golden.bitlet import BitletConfig
from golden.check import check_int, check_int_array
from hw.bitlet.mac import BitletMAC
from hw.bitlet.stages import BitletAlign, BitletCompute, BitletRepack, BitletStaging
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

    def payload_fields(self):
        fields = super().payload_fields()
        if self.config.mode == "fp32":
            fields = [f._replace(meaning=self.fp32_field_meanings.get(f.name, f.meaning)) for f in fields]
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
    def beats_per_pass(self) -> int:
        return self.config.load_cycles

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
            masks = [check_int(f"lane_mask[{p}]", m, lo=0, hi=cfg.full_lane_mask)
                     for p, m in enumerate(lane_mask)]
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
        m.submodules.staging = staging = BitletStaging(cfg, self.input_layout)
        m.submodules.compute = compute = BitletCompute(cfg)
        if self.fp32:
            m.submodules.align = align = BitletAlign(cfg)
            m.submodules.repack = repack = BitletRepack(cfg)
            pipeline = [staging, align, compute, repack]
        else:
            pipeline = [staging, compute]
        # beats -> staging (-> align) -> compute (-> repack) -> results, a pass per stream transfer
        connect(m, flipped(self.i), pipeline[0].i)
        for src, dst in zip(pipeline, pipeline[1:]):
            connect(m, src.o, dst.i)
        connect(m, pipeline[-1].o, flipped(self.o))
        m.d.comb += [stage.clear.eq(self.clear) for stage in pipeline]
        m.d.comb += self.cycles.eq(compute.cycles)
        return m
