"""Pytest-side helpers for PE regressions: pack payloads with the PE's own layout, write the vectors."""

from __future__ import annotations

import json
from pathlib import Path

from hw.pe import input_layout


def pack_payloads(weights_layout, *, lanes: int, act_bits: int, weights: list, acts) -> list[int]:
    """Pack each (weights value, activation vector) with the PE input layout; returns Python ints."""
    layout = input_layout(weights_layout, lanes=lanes, act_bits=act_bits)
    out = []
    for w, a in zip(weights, acts):
        out.append(int(layout.const({"weights": w, "acts": [int(v) for v in a]}).as_value().value))
    return out


def write_vectors(path: Path, payloads: list[int], results, cycles) -> Path:
    """Write what ``sim/tb_pe.py`` reads: payloads, golden results, cycle-model cycles per group."""
    path = Path(path)
    path.write_text(json.dumps({"payloads": [int(p) for p in payloads],
                                "results": [int(r) for r in results],
                                "cycles": [int(c) for c in cycles]}))
    return path
