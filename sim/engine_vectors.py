"""Vectors of the layer-engine bench (:mod:`sim.tb_layer`): images of :func:`hw.array.images.fc_layer`
as the words the generated Verilog's ports take."""

from __future__ import annotations

import json
from pathlib import Path

from sim.engine_sim import load_payload

__all__ = ["write_engine_vectors"]


def write_engine_vectors(path, engine, layers, *, load_prob=1.0, drain_prob=1.0, seed=0) -> Path:
    """Write the bench's JSON for ``layers`` (:class:`~hw.array.images.LayerImage`) run in turn on
    ``engine``; returns ``path``."""
    out = []
    max_cycles = 1000
    for image in layers:
        words = [int(engine.load_layout.const(load_payload(*w)).as_value().value) for w in image.load]
        desc = int(engine.desc_layout.const(image.desc).as_value().value)
        n_out = image.desc["channels"] * image.desc["tokens"] if image.desc["drain"] else 0
        out.append({"load": [f"{w:x}" for w in words], "desc": f"{desc:x}",
                    "expected": [int(v) for v in image.expected.ravel()] if n_out else [],
                    "n_out": n_out, "cycles": image.cycles.compute})
        max_cycles += 20 * (len(words) + n_out) + 2 * image.cycles.compute
    path = Path(path)
    path.write_text(json.dumps({"layers": out, "load_prob": load_prob, "drain_prob": drain_prob, "seed": seed,
                                "out_width": engine.config.acc_width, "max_cycles": max_cycles}))
    return path
