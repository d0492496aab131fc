"""Simulation speed of the layer engine under Verilator and Icarus Verilog, from one run (``make bench``).

``python -m sim.speed [--arch bitvert] [--rows 4 --cols 4] [--out build/reports/sim_speed.json]`` runs the
largest engine bench of ``make test`` (the real EfficientNet-Lite0 layer slices of
:func:`sim.engine_vectors.real_layer_images` on a 4 x 4 array) once under each simulator, one after the
other on the same machine, and writes per simulator ``{"simulator", "build_s", "sim_cycles",
"sim_s", "cycles_per_s"}`` plus their ratio. ``sim_s`` is the wall time of the bench itself (cocotb's
loads, start and drains; :mod:`sim.tb_layer` measures it), ``build_s`` the rest of the run (elaboration
to Verilog, compilation). Machines are shared and noisy: compare the two figures of one run, not runs.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from golden.array import ArrayConfig
from hw.array.archs import ARCHS, engine
from sim.engine_vectors import real_layer_images, write_engine_vectors
from sim.runner import BUILD, SIMULATORS, build_dir_for, run_cocotb

__all__ = ["measure"]


def measure(arch: str = "bitvert", rows: int = 4, cols: int = 4) -> dict:
    """Run the bench once per simulator; the figures of the module docstring."""
    cfg = ArrayConfig(rows=rows, cols=cols, weight_depth=512, act_depth=512, param_depth=8, out_depth=256)
    eng = engine(arch, cfg)
    images = [image for _, image in real_layer_images(eng, arch, seed=rows)]
    out = {"arch": arch, "rows": rows, "cols": cols, "layers": [n for n, _ in real_layer_images(eng, arch, seed=rows)],
           "runs": []}
    for simulator in SIMULATORS:
        d = build_dir_for(f"speed_{arch}_{rows}x{cols}_{simulator}")
        vec = write_engine_vectors(d / "vectors.json", eng, images, seed=rows)
        print(f"sim.speed: {arch} {rows}x{cols} under {simulator} ...", flush=True)
        t0 = time.perf_counter()
        run_cocotb(eng, toplevel=f"engine_{arch}", tb_module="sim.tb_layer", build_dir=d,
                   params={"vectors": str(vec), "speed": str(d / "speed.json")}, simulator=simulator)
        total = time.perf_counter() - t0
        speed = json.loads((d / "speed.json").read_text())
        row = {"simulator": simulator, "build_s": round(total - speed["seconds"], 2),
               "sim_cycles": speed["cycles"], "sim_s": round(speed["seconds"], 3),
               "cycles_per_s": round(speed["cycles"] / speed["seconds"])}
        print(f"  {row}", flush=True)
        out["runs"].append(row)
    by = {r["simulator"]: r for r in out["runs"]}
    out["verilator_over_icarus"] = round(by["verilator"]["cycles_per_s"] / by["icarus"]["cycles_per_s"], 1)
    return out


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--arch", default="bitvert", choices=sorted(ARCHS))
    ap.add_argument("--rows", type=int, default=4)
    ap.add_argument("--cols", type=int, default=4)
    ap.add_argument("--out", default=str(BUILD / "reports" / "sim_speed.json"))
    args = ap.parse_args(argv)
    result = measure(args.arch, args.rows, args.cols)
    path = Path(args.out)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result, indent=1) + "\n")
    print(f"sim.speed: Verilator {result['verilator_over_icarus']}x Icarus in cycles/s; wrote {path}")


if __name__ == "__main__":
    main()
