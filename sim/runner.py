"""Glue between a generator configuration and a cocotb test bench under Icarus Verilog.

:func:`run_cocotb` elaborates one Amaranth component to Verilog in its own build directory, compiles it
with Icarus, and runs a cocotb test module (``sim.tb_*``) against it. The test bench learns the
configuration from the ``BITSPARSE_PARAMS`` environment variable (JSON) and computes every expected value
with the golden model. When a test fails, the run is repeated with waveform dumping and the FST path is
part of the error, so there is always a trace to open (``gtkwave <path>``).
"""

from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path

from fpga.verilog import to_verilog

ROOT = Path(__file__).resolve().parent.parent
BUILD = ROOT / "build"

__all__ = ["run_cocotb", "write_verilog", "test_params", "build_dir_for"]


def write_verilog(component, path: Path, name: str) -> Path:
    """Elaborate ``component`` to Verilog module ``name`` in ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(to_verilog(component, name))
    return path


def build_dir_for(node_name: str) -> Path:
    """A fresh, private build directory for one test (safe under ``pytest -n``)."""
    safe = re.sub(r"[^A-Za-z0-9_.=-]+", "_", node_name).strip("_")[:120]
    d = BUILD / "sim" / safe
    if d.exists():
        shutil.rmtree(d)
    d.mkdir(parents=True)
    return d


def test_params() -> dict:
    """Inside a cocotb test bench: the configuration the runner passed."""
    return json.loads(os.environ["BITSPARSE_PARAMS"])


def _run(component_source: Path, toplevel: str, tb_module: str, build_dir: Path, params: dict,
         waves: bool, testcase=None, extra_sources=(), defines=None) -> tuple[int, int, Path]:
    from cocotb_tools.runner import get_results, get_runner

    runner = get_runner("icarus")
    runner.build(sources=[component_source, *extra_sources], defines=dict(defines or {}),
                 hdl_toplevel=toplevel, build_dir=build_dir,
                 timescale=("1ns", "1ps"), waves=waves, log_file=build_dir / "build.log")
    results = Path(build_dir) / "results.xml"
    try:
        runner.test(test_module=tb_module, hdl_toplevel=toplevel, build_dir=build_dir,
                    test_dir=build_dir, waves=waves, testcase=testcase, results_xml=str(results),
                    extra_env={"BITSPARSE_PARAMS": json.dumps(params)},
                    log_file=build_dir / "sim.log")
    except SystemExit:
        pass          # under pytest, cocotb_tools exits when a test fails; the results file says which
    if not results.exists():
        raise AssertionError(f"cocotb produced no results for {toplevel}; log: {build_dir / 'sim.log'}")
    total, failed = get_results(results)
    return total, failed, build_dir


def run_cocotb(component, *, toplevel: str, tb_module: str, build_dir: Path, params: dict,
               testcase=None, extra_sources=(), defines=None) -> int:
    """Run ``tb_module`` against ``component``; return the number of cocotb tests that passed.

    ``extra_sources``/``defines``: further Verilog files (e.g. vendor cell models) and macros.
    Raises ``AssertionError`` naming the log and an FST waveform when any test fails or none ran.
    """
    build_dir = Path(build_dir)
    src = write_verilog(component, build_dir / f"{toplevel}.v", toplevel)
    extra = dict(extra_sources=extra_sources, defines=defines)
    total, failed, _ = _run(src, toplevel, tb_module, build_dir / "run", params, waves=False,
                            testcase=testcase, **extra)
    if failed or total == 0:
        wave_dir = build_dir / "waves"
        try:
            _run(src, toplevel, tb_module, wave_dir, params, waves=True, testcase=testcase, **extra)
        finally:
            fst = wave_dir / f"{toplevel}.fst"
            print(f"cocotb: {failed} of {total} tests failed; log {build_dir / 'run' / 'sim.log'}; "
                  f"waveform {fst}")
        raise AssertionError(f"{failed} of {total} cocotb tests failed for {toplevel} "
                             f"(params {params}); log: {build_dir / 'run' / 'sim.log'}; waveform: {fst}")
    return total
