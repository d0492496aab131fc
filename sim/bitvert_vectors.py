"""Pytest-side helpers for the BitVert PE: a BBS-compressed tensor and its activations -> PE passes.

:func:`bitvert_passes` takes the passes' payloads from :meth:`hw.bitvert.pe.BitVertPE.payloads` (which
documents the pass split) and computes what each pass must give: the result
(:attr:`golden.bbs.BBSColumnSums.pass_psum`), the steps (:func:`golden.cycles.group_cycles_bitvert`) and
the accumulator after every cycle (:func:`golden.bitvert.pe_cycle_sums`).

Test data: :func:`pruned_tensor` (RA / ZPS on uniform or Laplace-quantized weights, with sensitive
channels), :func:`corner_groups` (all-zero, all-ones columns, the extremes of ``BBSConfig.weight_range``,
every redundant count, sensitive groups) and :func:`encode_datapath_form` (groups given as ``q + C``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from golden.bbs import (BBSConfig, BBSEncoded, BBSMeta, column_sums, decode, encode, round_average,
                        zero_point_shift)
from golden.bits import twos_range
from golden.bitvert import pe_cycle_sums
from golden.cycles import group_cycles_bitvert
from golden.layout import Grouping, group_weights
from golden.quant import quantize

__all__ = ["BitVertPasses", "bitvert_passes", "encode_datapath_form", "pruned_tensor", "corner_groups",
           "random_acts"]


@dataclass
class BitVertPasses:
    """The PE passes of one or more tensors, in stream order.

    ``payloads``: :meth:`BitVertPE.payloads <hw.bitvert.pe.BitVertPE.payloads>`; ``results``: golden pass
    dot products; ``cycles``: cycle model per pass; ``cycle_sums``: the accumulator after each cycle,
    ``[passes, B]`` (:func:`golden.bitvert.pe_cycle_sums`).
    """

    payloads: list
    results: np.ndarray
    cycles: np.ndarray
    cycle_sums: np.ndarray

    def __len__(self):
        return len(self.payloads)

    def __add__(self, other):
        return BitVertPasses(self.payloads + other.payloads,
                             *(np.concatenate([getattr(self, f), getattr(other, f)])
                               for f in ("results", "cycles", "cycle_sums")))


def bitvert_passes(pe, encoded: BBSEncoded, a) -> BitVertPasses:
    """The passes of ``encoded`` with activations ``a`` (``[n_groups, G]``) on BitVert PE ``pe``."""
    cfg, enc = pe.config, encoded
    payloads = pe.payloads(enc, a)                            # validates enc against the PE, and a
    cs = column_sums(enc, a, subgroup=cfg.subgroup, pe_length=cfg.pe_length)
    G, B, n = enc.group, enc.bits, enc.n_groups
    P = -(-G // cfg.pe_length)
    # the cycle model takes the datapath form q = w' - C (two's complement INT-B; w' itself may leave
    # INT-B for ZPS), one row per pass
    wq, _ = group_weights(decode(enc), G)
    q = np.pad(wq - cs.constant[:, None], ((0, 0), (0, P * cfg.pe_length - G))).reshape(n, P, cfg.pe_length)
    cycles = group_cycles_bitvert(q, bits=B, pruned=enc.pruned,
                                  sensitive=np.repeat(enc.sensitive[:, None], P, axis=1))
    sums = pe_cycle_sums(enc, a, subgroup=cfg.subgroup, pe_length=cfg.pe_length)
    return BitVertPasses(payloads, cs.pass_psum.reshape(-1), cycles.reshape(-1), sums.reshape(n * P, B))


# ------------------------------------------------------------------------------------------------
# test data: BBS-compressed tensors from the pruning methods, and corners given in the datapath form


def pruned_tensor(rng, cfg: BBSConfig, *, method: str, channels: int = 8, group_count: int = 2,
                  dist: str = "uniform", sensitive_frac: float = 0.0) -> BBSEncoded:
    """``[channels, group_count * G]`` weights pruned with ``method`` ("ra": :func:`round_average`, "zps":
    :func:`zero_point_shift`) at ``cfg``; ``dist`` "uniform" (every INT-B value) or "laplace" (Laplace
    floats quantized per channel with :func:`golden.quant.quantize`, the shape of real DNN weights).
    A random ``sensitive_frac`` of the output channels stay INT-B (sensitive)."""
    lo, hi = twos_range(cfg.bits)
    shape = (channels, group_count * cfg.group)
    if dist == "laplace":
        w, _ = quantize(rng.laplace(scale=rng.uniform(0.2, 2.0), size=shape), bits=cfg.bits)
    else:
        w = rng.integers(lo, hi + 1, size=shape)
    if method == "ra":
        wp, meta = round_average(w, bits=cfg.bits, group=cfg.group, pruned=cfg.pruned)
    else:
        wp, meta = zero_point_shift(w, bits=cfg.bits, group=cfg.group, pruned=cfg.pruned,
                                    const_bits=cfg.const_bits)
    sens = rng.random(channels) < sensitive_frac
    wp = np.where(sens[:, None], w, wp)
    return encode(wp, meta, sensitive=sens)


def encode_datapath_form(q, r, c, *, kind: str, cfg: BBSConfig, sensitive=None) -> BBSEncoded:
    """Encode groups given as ``w' = q + C`` (one group per row of ``q``, ``G = q.shape[1]``), for corners
    the pruning methods do not reach (e.g. the extremes of ``BBSConfig.weight_range``). Sensitive rows
    take ``q`` as the INT-B weights (``r``, ``c`` ignored)."""
    q = np.asarray(q, dtype=np.int64)
    n, G = q.shape
    sens = np.zeros(n, dtype=bool) if sensitive is None else np.asarray(sensitive, dtype=bool)
    r = np.where(sens, 0, np.broadcast_to(np.asarray(r, dtype=np.int64), (n,)))
    c = np.where(sens, 0, np.broadcast_to(np.asarray(c, dtype=np.int64), (n,)))
    grouping = Grouping((n, G), G, "fc")
    meta = BBSMeta(kind, "paper" if kind == "zps" else "round_average", cfg.bits, cfg.pruned, cfg.const_bits,
                   grouping, r, c, np.zeros(n, dtype=np.int64))
    return encode(q + c[:, None], meta, sensitive=sens)


def random_acts(rng, n: int, G: int) -> np.ndarray:
    """int8 activations: uniform, with some all -128 / all 127 rows."""
    a = rng.integers(-128, 128, size=(n, G))
    pick = rng.random(n)
    a[pick < 0.1] = -128
    a[(pick >= 0.1) & (pick < 0.15)] = 127
    return a


def corner_groups(rng, cfg: BBSConfig, *, kind: str, G: int | None = None):
    """Corner groups in the datapath form and their activations: ``(encoded, acts)``.

    All-zero groups, all-ones live columns, the extremes of ``weight_range`` (most negative ``q`` with the
    most negative ZPS constant, largest ``q`` with the largest constant) against the most negative and
    most positive activations, every redundant count ``r`` with random ``q``, and sensitive INT-B groups
    (-2**(B-1), 2**(B-1)-1, random) mixed in. Constants are clipped so that every ``w'`` stays inside
    ``cfg.weight_range`` (matters for ``N = 0``, where that range is INT-B).
    """
    B, N = cfg.bits, cfg.pruned
    G = cfg.pe_length * 2 if G is None else G
    half = 1 << (cfg.const_bits - 1)
    qlo, qhi = -(1 << (B - 1)), (1 << (B - 1)) - (1 << N)
    cmin, cmax = (-half, half - 1) if kind == "zps" else (0, (1 << N) - 1)
    amin, amax = np.full(G, -128), np.full(G, 127)
    rows = []       # (q row, r, C, sensitive, acts); the 7th kind: q + C = qlo, but q_trunc + C < qlo after
                    # the sign column (the partial sum overshoots the final range when N = 0 or p < 4)
    for a in (amin, amax, rng.integers(-128, 128, G)):
        rows += [(np.zeros(G, int), 0, 0, False, a),
                 (np.full(G, -(1 << N)), 0, int(rng.integers(cmin, cmax + 1)), False, a),   # all-ones columns
                 (np.full(G, qlo), 0, cmin, False, a),
                 (np.full(G, qhi), 0, cmax, False, a),
                 (np.full(G, qlo), 0, cmax, False, a),
                 (np.full(G, qhi), 0, cmin, False, a),
                 (np.full(G, min(qlo + ((-cmin + (1 << N) - 1) >> N << N), -(1 << N))), 0, cmin, False, a),
                 (np.full(G, qlo), 0, 0, True, a),
                 (np.full(G, (1 << (B - 1)) - 1), 0, 0, True, a)]
    for r in range(min(3, N) + 1):
        s = N - r
        top = 1 << (B - 1 - r)
        for _ in range(3):
            q = rng.integers(-top >> s, top >> s, size=G) << s
            chi = cmax if kind == "zps" else (1 << s) - 1          # RA: C < 2**(N-r)
            rows.append((q, r, int(rng.integers(cmin, chi + 1)), False, rng.integers(-128, 128, G)))
    rows.append((rng.integers(qlo, -qlo, size=G), 0, 0, True, rng.integers(-128, 128, G)))
    wlo, whi = cfg.weight_range          # keep every w' = q + C inside the range the format promises
    rows = [(q, r, c if sens else int(np.clip(c, wlo - q.min(), whi - q.max())), sens, a)
            for q, r, c, sens, a in rows]
    order = rng.permutation(len(rows))
    rows = [rows[i] for i in order]
    enc = encode_datapath_form(np.stack([x[0] for x in rows]), [x[1] for x in rows], [x[2] for x in rows],
                               kind=kind, cfg=cfg, sensitive=[x[3] for x in rows])
    return enc, np.stack([x[4] for x in rows])
