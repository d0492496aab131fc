"""Pytest-side helper for PE regressions: write what the cocotb benches read."""

from __future__ import annotations

import json
from pathlib import Path

__all__ = ["write_vectors"]


def write_vectors(path: Path, pe, payloads: list[int], results, cycles, **extra) -> Path:
    """Write the JSON that ``sim/tb_pe.py`` reads: the PE's spec (:meth:`hw.pe.PE.spec`), the input words
    (:meth:`hw.pe.PE.pack`), the golden result and the cycle model's steps of every group, and any
    ``extra`` lists (e.g. ``errors`` for ``sim/tb_weight_error.py``)."""
    path = Path(path)
    path.write_text(json.dumps({"pe": pe.spec(), "payloads": [int(p) for p in payloads],
                                "results": [r if isinstance(r, (list, float)) else int(r) for r in results],
                                "cycles": [int(c) for c in cycles], **extra}))
    return path
