"""fpga/pe_report.py: the cycles per group it reports on the reference layer (exact, from the cycle models)."""

import numpy as np
import pytest

from golden.workloads import bbs_workloads
from fpga.pe_report import workload_cycles


@pytest.fixture(scope="module")
def workloads():
    return bbs_workloads()


def test_reference_layer_sensitive_shares(workloads):
    # 320 channels: 10 % and 20 % are whole 32-channel tiles, so Algorithm 2 does not round them up
    assert workloads["cons"].sensitive.sum() == 32 and workloads["mod"].sensitive.sum() == 64
    assert workloads["int8"].weights.shape == (320, 128, 3, 3)


def test_bitvert_cycles(workloads):
    n2 = workload_cycles("bitvert", {"bits": 8, "pruned": 2, "pe_length": 16}, workloads)
    n4 = workload_cycles("bitvert", {"bits": 8, "pruned": 4, "pe_length": 16}, workloads)
    assert n2["int8"] == (8.0, 16)
    assert n2["cons"] == (pytest.approx(0.9 * 6 + 0.1 * 8, abs=1e-12), 16)   # exactly 6.2
    assert n2["mod"] == (pytest.approx(0.8 * 6 + 0.2 * 8, abs=1e-12), 16)    # N=4 weights on an N=2 PE
    assert n4["cons"] == (None, 16)                                          # N=2 weights do not fit N=4
    assert n4["mod"] == (pytest.approx(0.8 * 4 + 0.2 * 8, abs=1e-12), 16)


def test_baselines_run_the_int8_weights(workloads):
    s = workload_cycles("stripes", {"bits": 8, "pe_length": 8}, workloads)
    assert s == {"int8": (8.0, 8), "cons": (8.0, 8), "mod": (8.0, 8)}
    p = workload_cycles("pragmatic", {"bits": 8, "pe_length": 16}, workloads)
    assert p["int8"] == p["cons"] == p["mod"]
    assert workload_cycles("bitbalance", {"bits": 8, "k": 3, "pe_length": 16}, workloads)["mod"] == (3.0, 16)
    assert workload_cycles("ebsp", {"bits": 8, "window": 3, "pe_length": 16}, workloads)["mod"] == (1.0, 16)
    assert workload_cycles("bitlet", {"n_total": 16, "mode": "fp32"}, workloads)["int8"] == (None, 16)


def test_bad_arch(workloads):
    with pytest.raises(ValueError, match="arch must be one of .* got 'tpu'"):
        workload_cycles("tpu", {}, workloads)


def test_ecp5_fmax_column_marks_a_placement_estimate():
    from fpga.pe_report import _ecp5_fmax
    assert _ecp5_fmax({"fmax_mhz": 103.51, "fmax_placed_mhz": None}) == "103.5"
    assert _ecp5_fmax({"fmax_mhz": None, "fmax_placed_mhz": 31.24}) == "31.2 (placed, est.)"
    assert _ecp5_fmax({"fmax_mhz": None}) == "n/a"          # records written before the estimate existed


def test_fpga_flow_of_light_heavy_and_place_only_configurations(monkeypatch):
    """Which ECP5 placer and router each kind of configuration gets, and when it is only placed."""
    import fpga.pe_report as pr
    from fpga.registry import get_config

    calls = []

    def ecp5_fmax(name, pe, workdir, router, placer, route):
        calls.append((name, placer, router, route))
        if route:
            return {"fmax_mhz": 50.0, "utilization": {"TRELLIS_COMB": (100, 1000)}}
        return {"fmax_mhz": None, "fmax_placed_mhz": 40.0, "utilization": {"TRELLIS_COMB": (100, 1000)}}

    monkeypatch.setattr(pr, "ice40_area", lambda *a: {"lut4": 9000, "carry": 0, "ff": 0, "dsp": 0})
    monkeypatch.setattr(pr, "ecp5_area", lambda *a: {"lut4": 9000, "ff": 0})
    monkeypatch.setattr(pr, "ecp5_fmax", ecp5_fmax)
    monkeypatch.setattr(pr, "ice40_fmax", lambda *a: pytest.fail("9000 LUT4 cannot be placed on the UP5K"))
    monkeypatch.setattr("fpga.registry.Config.build", lambda self: None)   # nothing is elaborated
    _, light, _ = pr.fpga_figures(get_config("stripes_pe_l8"))
    _, heavy, heavy_notes = pr.fpga_figures(get_config("bitlet_fp32_n16"))
    _, placed, placed_notes = pr.fpga_figures(get_config("bitlet_fp32_n64"))
    _, routed, _ = pr.fpga_figures(get_config("bitlet_fp32_n64"), route_heavy=True)
    assert calls == [("stripes_pe_l8", "heap", "router1", True), ("bitlet_fp32_n16", "static", "router2", True),
                     ("bitlet_fp32_n64", "static", "router2", False), ("bitlet_fp32_n64", "static", "router2", True)]
    assert light["fmax_mhz"] == heavy["fmax_mhz"] == routed["fmax_mhz"] == 50.0
    assert placed["fmax_mhz"] is None and placed["fmax_placed_mhz"] == 40.0
    assert "routed with router2; 100 of 1000 TRELLIS_COMB (10 %)" in heavy_notes[-1]
    assert "not routed" in placed_notes[-1] and "estimate 40.0 MHz" in placed_notes[-1]
