"""BitVert PE: BBS bi-directional bit-serial dot product, ``B - N`` cycles per pruned pass, ``B`` per sensitive.

Paper: BBS / BitVert (MICRO 2024, Fig. 7b), docs/bbs.md (BitVert PE). One pass computes the exact
``sum_i w'_i a_i`` of ``pe_length`` weights of a BBS-compressed group and int8 activations, one live
weight column per cycle, MSB first::

    sum_i w'_i a_i = sum_live columns (+/-) 2**col_idx * BBSsum_column  +  C * sum(A)

Built from a :class:`golden.bbs.BBSConfig`: its own :class:`~hw.bitvert.scheduler.BBSScheduler` (each
cycle's column decisions) and :class:`~hw.pe.SerialSequencer` (handshake and steps), a
:class:`~hw.bitvert.act_sums.BitVertActSums` (the pass's activation sums, registered at load) and a
:class:`~hw.bitvert.datapath.BitVertDatapath`: per sub-group ``Gs/2`` AND-OR window muxes, an adder tree
and one ``asum - L`` subtractor with a multiplexer (Eq. 2/3); the sub-groups' sum, negated in the sign
column, ``<< col_idx`` in one barrel shifter; the constant ``C * sum(A)`` three constant bits per cycle (a digit in ``-4..7``);
``acc <- (is_msb ? 0 : acc) + column term + constant term``. In the shared array
(:class:`~hw.array.bitvert_grid.BitVertGrid`) the same datapath takes a row's scheduler and a column's
sums. Golden model: :attr:`golden.bbs.BBSColumnSums.pass_psum`, per cycle
:func:`golden.bitvert.pe_cycle_sums`; cycle model :func:`golden.cycles.group_cycles_bitvert`.

Ports: the PE contract of :mod:`hw.pe`; payload in :meth:`BitVertPE.payloads` (``weights``:
``columns``, ``meta``, ``sensitive``, ``signed_const``; ``acts``: ``pe_length`` int8). A pass of ``n``
steps is valid ``n + latency`` (``latency = 1``) cycles after its acceptance; one pass every ``n`` cycles.

Choice: the constant is applied per pass with that pass's activation sum (a G = 32 group is two passes).
Choice: high constant digit (``<< 3``) in the first cycle, low digit in the second (golden.bitvert).
(The datapath's and the activation sums' own choices are in their modules.)
"""

from __future__ import annotations

import numpy as np
from amaranth.hdl import Module

from golden.bbs import BBSConfig, BBSEncoded, decode
from golden.bits import twos_range
from golden.bitvert import ACT_BITS
from golden.check import check_int_array
from hw.bitvert.act_sums import BitVertActSums
from hw.bitvert.datapath import BitVertDatapath, drive_datapath
from hw.bitvert.scheduler import BBSScheduler
from hw.pe import PE

__all__ = ["BitVertPE", "ACT_BITS"]


class BitVertPE(PE):
    """BitVert bit-serial PE with its BBS scheduler, built from a :class:`~golden.bbs.BBSConfig`.

    Hardware limits: those of :class:`~hw.bitvert.scheduler.BBSScheduler` (``subgroup <= 16``).
    ``max_steps`` = B; a pass takes ``B`` steps when sensitive, ``B - N`` when pruned.

    Attributes
    ----------
    datapath : BitVertDatapath
        The PE's datapath (elaborated as its submodule).
    acc : Signal(signed(pe_acc_width(config)))
        The datapath's accumulator register (not a port; the simulator tests compare it with
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
        self.datapath = BitVertDatapath(self.config)
        self.acc = self.datapath.acc                  # not a port: the tests read it

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
        sch = BBSScheduler(self.config)
        seq = self.add_sequencer(m, self.max_steps, sch.n_steps)
        m.submodules.scheduler = sch
        m.d.comb += [sch.group.eq(self.i.payload.weights), sch.load.eq(seq.load), sch.advance.eq(seq.active)]
        m.submodules.act_sums = sums = BitVertActSums(self.config)
        m.d.comb += [sums.acts.eq(self.i.payload.acts), sums.load.eq(seq.load)]
        m.submodules.datapath = dp = self.datapath
        drive_datapath(m, dp, acts=self.i.payload.acts, scheduler=sch, sequencer=seq, sums=sums)
        m.d.comb += self.o.payload.eq(dp.result)
        return m
