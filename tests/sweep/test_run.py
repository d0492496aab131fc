"""A small sweep run for real (sweep/run.py): on the local process pool and on a Dask cluster on loopback
(its tools run again there), with identical records; again from the cache; a point that does not fit, a timeout and a killed worker
recorded, not fatal. Yosys and nextpnr run (iCE40 UP5K, small PEs: seconds each)."""

import functools
import json
import shutil

import numpy as np
import pytest

from golden.cycles import layer_cycles
from network.compress import compress
from network.report import _layer_args, mnist, pass_length
from sweep.points import make_design
from sweep.run import RUN_FIELDS, main, run_sweep
from sweep.spec import Point, parse_spec

pytestmark = pytest.mark.synth

SPEC = parse_spec({"network": "mnist", "limit": 100, "devices": ["ice40"], "grid": [
    {"arch": ["stripes", "bitvert"], "lanes": 8, "N": 2},
    {"arch": "parallel", "lanes": 16, "multiplier": "sb_mac16"}]})


@functools.lru_cache(maxsize=None)
def mnist100():
    return mnist(100)


def figures(records):
    return [{k: v for k, v in r.items() if k not in RUN_FIELDS} for r in records]


def expected_cycles(method, arch, lanes, pruned=0):
    """The network's cycles on one PE of ``lanes`` weights, from the cycle model layer by layer."""
    subject = mnist100()
    total = 0
    for layer in compress(subject.weights, method).layers:
        w, where = _layer_args(layer.q, subject.shapes[layer.name])
        pe = pass_length(layer.shape[1], layer.group, lanes)
        extra = {"pruned": pruned if layer.group else 0, "sensitive": layer.sensitive if layer.group else None} \
            if arch == "bitvert" else {}
        total += layer_cycles(arch, w, pe_length=pe, array_rows=1, array_cols=1, **where, **extra)
    return total


def expected_macs():
    subject = mnist100()
    total = 0
    for name, w in subject.weights.items():
        w, where = _layer_args(w, subject.shapes[name])
        total += w.size * (where["tokens"] if "tokens" in where else int(np.prod(where["out_size"])))
    return total


def test_sweep_local_cached_and_on_dask(tmp_path):
    from dask.distributed import LocalCluster

    from fpga.pnr import _read_report, ice40_area

    log = []
    records = run_sweep(SPEC, tmp_path / "local", work=tmp_path / "work", jobs=2, log=log.append)
    by = {r["name"]: r for r in records}
    assert list(by) == ["stripes_l8", "bitvert_l8_n2", "parallel_l16_dsp"]

    # the figures are those of the tools and the models
    s, b, p = by["stripes_l8"], by["bitvert_l8_n2"], by["parallel_l16_dsp"]
    assert s["lut4"] == ice40_area("check", make_design(Point("stripes", "ice40", lanes=8)), tmp_path / "a")["lut4"]
    report = tmp_path / "work" / "hw" / "stripes_l8" / "ice40" / "pnr" / "report.json"
    assert s["fmax_mhz"] == _read_report(report, "stripes_l8")["fmax_mhz"]
    assert s["cycles"] == expected_cycles("int8", "stripes", 8)
    assert b["cycles"] == expected_cycles("bbs_cons", "bitvert", 8, pruned=2)
    subject = mnist100()
    assert s["accuracy"] == s["accuracy_int8"] == float(np.mean(subject.run(None).argmax(1) == subject.labels))
    assert s["accuracy_loss"] == 0.0 and s["bits_per_weight"] == 8.0
    assert b["accuracy_loss"] == 100 * (s["accuracy"] - b["accuracy"])
    assert b["bits_per_weight"] == compress(subject.weights, "bbs_cons").bits_per_weight
    for r in (s, b):
        assert r["status"] == "ok" and r["fits"] is True and r["error"] is None
        assert r["macs"] == expected_macs()
        assert r["macs_per_cycle"] == r["macs"] / r["cycles"]
        assert r["mmacs_per_s_per_klut"] == r["macs_per_cycle"] * r["fmax_mhz"] / (r["lut4"] / 1000)
        assert r["cached"] is False and r["tool_runs"] == 2 and r["attempts"] == 1
    # the point that does not fit is recorded, with why
    assert p["status"] == "failed" and p["fits"] is False and p["dsp"] == 16 and p["fmax_mhz"] is None
    assert p["error"] == "does not fit the iCE40 UP5K (16 dsp > 8): not placed"
    assert p["mmacs_per_s"] is None and p["cycles"] == expected_cycles("int8", "parallel", 16)
    out = tmp_path / "local"
    assert json.loads((out / "results.json").read_text())["points"] == records
    md = (out / "results.md").read_text()
    assert "| parallel_l16_dsp | iCE40 UP5K | int8 | failed: does not fit the iCE40 UP5K (16 dsp > 8)" in md
    assert "Pareto front on the iCE40 UP5K" in md
    assert [f.name for f in sorted((out / "img").iterdir())] == ["fmax.png", "luts_vs_lanes.png", "pareto.png"]

    # a second run comes from the cache: no tool runs, the network figures read back
    log2 = []
    again = run_sweep(SPEC, tmp_path / "again", work=tmp_path / "work", jobs=2, log=log2.append)
    assert figures(again) == figures(records)
    assert all(r["cached"] and r["tool_runs"] == 0 for r in again)
    assert sum(": cached: " in line for line in log2) == 5          # 3 points and 2 methods

    # a Dask cluster on loopback, with a work directory holding only the methods' figures (copied: the
    # network passes are the slow part and were checked above): every tool runs again there, same records
    shutil.copytree(tmp_path / "work" / "network", tmp_path / "work_dask" / "network")
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                      dashboard_address=None) as cluster:
        on_dask = run_sweep(SPEC, tmp_path / "dask", work=tmp_path / "work_dask", scheduler=cluster.scheduler_address,
                            log=lambda m: None)
    assert figures(on_dask) == figures(records)
    assert [(r["cached"], r["tool_runs"]) for r in on_dask] == [(False, 2), (False, 2), (False, 1)]


def test_a_timed_out_task_is_recorded(tmp_path):
    spec = parse_spec({"timeout": 1, "grid": [{"arch": "stripes", "lanes": 2}]})
    [r] = run_sweep(spec, tmp_path / "out", work=tmp_path / "work", jobs=2, log=lambda m: None)
    assert r["status"] == "timeout"
    assert r["error"].startswith("timed out after 1 s (its process group killed)")
    assert r["lut4"] is None and r["attempts"] == 1


def test_a_killed_worker_is_retried_once(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("BITSPARSE_SWEEP_KILL_ONCE", str(tmp_path / "marks"))
    assert main(["--arch", "stripes", "--lanes", "2", "--out", str(tmp_path / "out"), "--work",
                 str(tmp_path / "work"), "--jobs", "2"]) == 0
    out = capsys.readouterr().out
    assert out.count("killed by SIGKILL) without a result") == 2 and out.count("; retrying") == 2
    [r] = json.loads((tmp_path / "out" / "results.json").read_text())["points"]
    assert r["status"] == "ok" and r["attempts"] == 2 and r["fmax_mhz"] > 0
    assert len(list((tmp_path / "marks").iterdir())) == 2           # each task was killed once
    assert "1 of 1 points ok" in out
