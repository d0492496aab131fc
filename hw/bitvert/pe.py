"""BitVert PE: BBS bi-directional bit-serial dot product, ``B - N`` cycles per pruned pass, ``B`` per sensitive.

Paper: BBS / BitVert (MICRO 2024, Fig. 7b), docs/bbs.md (BitVert PE). One pass computes the exact
``sum_i w'_i a_i`` of ``pe_length`` weights of a BBS-compressed group and int8 activations, one live
weight column per cycle, MSB first::

    sum_i w'_i a_i = sum_live columns (+/-) 2**col_idx * BBSsum_column  +  C * sum(A)

Built from a :class:`golden.bbs.BBSConfig`. Datapath: the :class:`~hw.bitvert.scheduler.BBSScheduler`
gives each cycle's column decisions; per sub-group ``Gs/2`` AND-OR window muxes, an adder tree and one
``offset +/- L`` adder (Eq. 2/3 with the sign column's negation); the sub-group sum ``<< col_idx`` in one
barrel shifter; the constant ``C * sum(A)`` three constant bits per cycle (a digit in ``-4..7``);
``acc <- (is_msb ? 0 : acc) + column term + constant term``. Golden model:
:attr:`golden.bbs.BBSColumnSums.pass_psum`, per cycle :func:`golden.bitvert.pe_cycle_sums`; cycle model
:func:`golden.cycles.group_cycles_bitvert`.

Ports: the PE contract of :mod:`hw.pe`; payload in :meth:`BitVertPE.payloads` (``weights``:
``columns``, ``meta``, ``sensitive``, ``signed_const``; ``acts``: ``pe_length`` int8). A pass of ``n``
steps is valid ``n + latency`` (``latency = 1``) cycles after its acceptance; one pass every ``n`` cycles.

Choice: the constant is applied per pass with that pass's activation sum (a G = 32 group is two passes).
Choice: high constant digit (``<< 3``) in the first cycle, low digit in the second (golden.bitvert).
Choice: accumulator ``pe_acc_width(config)`` bits, result port ``config.acc_width`` bits.
Choice: activation sums computed from the offered activations and registered with the pass at load.
Choice: no register between the shifter and the accumulator; ShiftAccumulator is not reused.
"""

from __future__ import annotations

import operator
from functools import reduce

import numpy as np
from amaranth.hdl import Module, Mux, Signal, signed

from golden.bbs import BBSConfig, BBSEncoded, decode
from golden.bits import product_range, signed_width, twos_range
from golden.bitvert import ACT_BITS, DIGIT_BITS, digit_range, pe_acc_width
from golden.check import check_int_array
from hw.blocks.adder_tree import AdderTree
from hw.blocks.barrel_shifter import BarrelShifter
from hw.bitvert.scheduler import BBSScheduler
from hw.pe import PE

__all__ = ["BitVertPE", "ACT_BITS"]


class BitVertPE(PE):
    """BitVert bit-serial PE with its BBS scheduler, built from a :class:`~golden.bbs.BBSConfig`.

    Hardware limits: those of :class:`~hw.bitvert.scheduler.BBSScheduler` (``subgroup <= 16``).
    ``max_steps`` = B; a pass takes ``B`` steps when sensitive, ``B - N`` when pruned.

    Attributes
    ----------
    acc : Signal(signed(pe_acc_width(config)))
        The accumulator register (not a port; the simulator tests compare it with
        :func:`golden.bitvert.pe_cycle_sums` cycle by cycle).
    """

    config_class = BBSConfig
    hw_limits = BBSScheduler.hw_limits
    latency = 1
    field_meanings = {
        "weights.columns[i]": "live column word i of the pass (MSB first, i = 0 the sign column): bit k is "
                              "weight k of the pass; unused words 0",
        "weights.meta": "the group's metadata byte, r << 6 | constant field (same in every pass; ignored "
                        "when sensitive)",
        "weights.sensitive": "1: an INT-B group, B columns from position B-1, no constant",
        "weights.signed_const": "1: the constant field is two's complement (ZPS), 0: unsigned (RA)",
        "acts[i]": "activation of weight i of the pass, int8 (0 for the padding of a short last pass)",
    }
    result_meaning = "the exact dot product of the pass (a group's is the sum of its passes')"

    def __init__(self, config: BBSConfig):
        super().__init__(config)
        self.acc = Signal(signed(pe_acc_width(self.config)), name="acc")    # not a port: the tests read it

    @classmethod
    def weights_layout(cls, config: BBSConfig):
        return BBSScheduler.weights_layout(config)

    @property
    def input_act_bits(self) -> int:
        return ACT_BITS

    @property
    def max_steps(self) -> int:
        return self.config.bits

    def payloads(self, encoded: BBSEncoded, acts) -> list[dict]:
        """The input transactions of a BBS-compressed tensor and its activations, pass by pass.

        ``encoded``: a :class:`golden.bbs.BBSEncoded` with this PE's ``bits`` and ``pruned``, its weights
        inside ``config.weight_range`` (the accumulator is sized for it); ``acts``: ``[n_groups, G]`` int8,
        ``acts[g, i]`` meets weight ``i`` of group ``g``.

        A group of ``G`` weights is ``P = ceil(G / pe_length)`` passes (a G = 32 group: two 16-weight
        passes), listed group by group in row order. Pass ``p`` carries bits ``p*pe_length ..
        p*pe_length + pe_length - 1`` of each of the group's column words, the group's metadata byte and
        ``sensitive`` flag and ``signed_const = (encoded.kind == "zps")`` (the same in every pass of the
        group), and the activations of those weights. A short last pass is padded with weight bits 0 and
        activations 0, as :func:`golden.bbs.column_sums` pads. Pass ``p``'s result is
        ``column_sums(...).pass_psum[g, p]``: the constant term uses that pass's own activation sum, so a
        group's dot product is the sum of its passes' results.
        """
        cfg = self.config
        if not isinstance(encoded, BBSEncoded):
            raise TypeError(f"encoded must be a golden.bbs.BBSEncoded, got {type(encoded).__name__}")
        for name in ("bits", "pruned"):
            if getattr(encoded, name) != getattr(cfg, name):
                raise ValueError(f"encoded.{name} must be {getattr(cfg, name)} (config.{name} of this PE), "
                                 f"got {getattr(encoded, name)}")
        wlo, whi = cfg.weight_range
        w = decode(encoded)
        if w.size and (w.min() < wlo or w.max() > whi):
            raise ValueError(f"encoded weights must lie in config.weight_range [{wlo}, {whi}] "
                             f"(const_bits={cfg.const_bits}), got [{w.min()}, {w.max()}]")
        G, n, lanes = encoded.group, encoded.n_groups, cfg.pe_length
        alo, ahi = twos_range(ACT_BITS)
        a = check_int_array("acts", acts, lo=alo, hi=ahi, ndim=2)
        if a.shape != (n, G):
            raise ValueError(f"acts must have shape ({n}, {G}) (n_groups, group), got {a.shape}")
        P = -(-G // lanes)
        a = np.pad(a, ((0, 0), (0, P * lanes - G)))
        mask = (1 << lanes) - 1
        out = []
        for g in range(n):
            words = [int(v) for v in encoded.words[g]]
            head = {"meta": int(encoded.meta[g]), "sensitive": int(encoded.sensitive[g]),
                    "signed_const": int(encoded.kind == "zps")}
            for p in range(P):
                out.append({"weights": {"columns": [(v >> (p * lanes)) & mask for v in words], **head},
                            "acts": [int(v) for v in a[g, p * lanes:(p + 1) * lanes]]})
        return out

    def elaborate(self, platform):
        m = Module()
        cfg = self.config
        B, n, gs, act_bits = cfg.bits, cfg.pe_length, cfg.subgroup, self.input_act_bits
        half, S = gs // 2, n // gs
        sch = BBSScheduler(cfg)
        seq = self.add_sequencer(m, self.max_steps, sch.n_steps)
        m.submodules.scheduler = sch
        m.d.comb += [sch.group.eq(self.i.payload.weights), sch.load.eq(seq.load), sch.advance.eq(seq.active)]
        acts = [Signal(signed(act_bits), name=f"a{i}") for i in range(n)]
        with m.If(seq.load):
            m.d.sync += [acts[i].eq(self.i.payload.acts[i]) for i in range(n)]

        # activation sums of the offered group, computed at load and registered with it
        sub_asums = []
        for s in range(S):
            asum_tree = AdderTree(gs, act_bits)
            m.submodules[f"asum{s}"] = asum_tree
            m.d.comb += [asum_tree.x[i].eq(self.i.payload.acts[s * gs + i]) for i in range(gs)]
            sub_asum = Signal(signed(cfg.subgroup_sum_width), name=f"sub{s}_asum")
            with m.If(seq.load):
                m.d.sync += sub_asum.eq(asum_tree.sum)
            sub_asums.append((sub_asum, asum_tree.sum))
        m.submodules.pass_asum_tree = pa_tree = AdderTree(S, cfg.subgroup_sum_width)
        m.d.comb += [pa_tree.x[s].eq(sub_asums[s][1]) for s in range(S)]
        pass_asum = Signal(signed(cfg.pass_sum_width))
        with m.If(seq.load):
            m.d.sync += pass_asum.eq(pa_tree.sum)

        # per sub-group: window muxes, adder tree, Eq. 2 / Eq. 3 select with the sign-column negation
        # folded in: (+/-)(invert ? asum - L : L) = offset +/- L, one adder per sub-group
        bbs_sums = []
        sw = cfg.subgroup_sum_width + 1
        for s in range(S):
            base = s * gs
            lanes_tree = AdderTree(half, act_bits)
            m.submodules[f"lanes{s}"] = lanes_tree
            for j in range(half):
                lane = Signal(signed(act_bits), name=f"sub{s}_lane{j}")
                oh = sch.sel_onehot[s][j]
                picks = [acts[base + j + k] & oh[k].replicate(act_bits) for k in range(half + 1)]
                m.d.comb += lane.eq(reduce(operator.or_, picks))
                m.d.comb += lanes_tree.x[j].eq(lane)
            sub_asum = sub_asums[s][0]
            neg = Signal(name=f"sub{s}_neg")
            offset = Signal(signed(sw), name=f"sub{s}_offset")
            lsum = Signal(signed(sw), name=f"sub{s}_lanes")
            bbs = Signal(signed(sw), name=f"sub{s}_bbs_term")
            m.d.comb += [
                neg.eq(sch.invert[s] ^ sch.is_msb),
                offset.eq(Mux(sch.invert[s], Mux(sch.is_msb, -sub_asum, sub_asum), 0)),
                lsum.eq(lanes_tree.sum),
                bbs.eq(Mux(neg, offset - lsum, offset + lsum)),
            ]
            bbs_sums.append(bbs)

        m.submodules.column_tree = col_tree = AdderTree(S, sw)
        m.d.comb += [col_tree.x[s].eq(bbs_sums[s]) for s in range(S)]
        term = Signal(signed(cfg.pass_sum_width + 1))
        m.d.comb += term.eq(col_tree.sum)

        # the single shifter << col_idx
        m.submodules.shifter = sh = BarrelShifter(cfg.pass_sum_width + 1, B - 1, "left", arithmetic=True)
        m.d.comb += [sh.data.eq(term), sh.amount.eq(sch.col_idx)]
        col_term = sh.result.as_signed()

        # time-multiplexed BBS constant: one digit x sum(A) per cycle, << 3 for the high digit
        prod_lo, prod_hi = product_range(digit_range(), twos_range(cfg.pass_sum_width))
        const_prod = Signal(signed(signed_width(prod_lo, prod_hi)))
        const_term = Signal(signed(len(const_prod) + DIGIT_BITS))
        m.d.comb += [
            const_prod.eq(sch.const_digit * pass_asum),
            const_term.eq(Mux(sch.const_shift, const_prod << DIGIT_BITS, const_prod)),
        ]

        acc = self.acc
        acc_next = Signal.like(acc)
        acc_base = Signal.like(acc)          # may wrap; acc_next (modulo 2**len(acc)) is exact
        m.d.comb += [acc_base.eq(Mux(sch.is_msb, 0, acc) + const_term), acc_next.eq(acc_base + col_term)]
        with m.If(seq.active):
            m.d.sync += acc.eq(acc_next)
        with m.If(seq.last):
            m.d.sync += self.o.payload.eq(acc_next)
        return m
