"""fpga/pnr.py: a place-and-route result is reused only for the same wrapped design and arguments."""

import pytest

import fpga.pnr as pnr
from hw.blocks.popcount import Popcount


def test_place_and_route_is_reused_for_an_unchanged_design(tmp_path, monkeypatch):
    first = pnr.ice40_fmax("popcount_w4", Popcount(4), tmp_path / "pnr")
    assert first["fmax_mhz"] > 0
    key = (tmp_path / "pnr" / "pnr_key.txt").read_text()

    def refuse(*args, **kwargs):
        raise AssertionError("nextpnr ran again for an unchanged design")

    monkeypatch.setattr(pnr, "_nextpnr", refuse)
    assert pnr.ice40_fmax("popcount_w4", Popcount(4), tmp_path / "pnr") == first
    # a different design (or different arguments) has a different key and is placed again
    with pytest.raises(AssertionError, match="nextpnr ran again"):
        pnr.ice40_fmax("popcount_w5", Popcount(5), tmp_path / "pnr")
    assert pnr.pnr_key("v", "s", ["--seed", "1"]) != pnr.pnr_key("v", "s", ["--seed", "2"])
    assert len(key) == 64


def test_ecp5_place_only_gives_the_placement_estimate(tmp_path):
    placed = pnr.ecp5_fmax("popcount_w4", Popcount(4), tmp_path / "placed", route=False)
    assert placed["fmax_mhz"] is None and placed["fmax_placed_mhz"] > 0
    used, available = placed["utilization"]["TRELLIS_COMB"]
    assert 0 < used < available
    routed = pnr.ecp5_fmax("popcount_w4", Popcount(4), tmp_path / "routed")
    assert routed["fmax_mhz"] > 0 and "fmax_placed_mhz" not in routed
    with pytest.raises(ValueError, match=r"router must be one of 'router1', 'router2', got 'router3'"):
        pnr.ecp5_fmax("popcount_w4", None, tmp_path / "x", router="router3")   # checked first


def test_ecp5_static_placer_and_router2_are_the_ones_run(tmp_path):
    routed = pnr.ecp5_fmax("popcount_w4", Popcount(4), tmp_path / "static", router="router2", placer="static")
    assert routed["fmax_mhz"] > 0
    log = (tmp_path / "static" / "nextpnr.log").read_text()
    assert "Running Static placer" in log and "Running router2" in log
    assert "pin 'clk$tr_io' constrained to Bel 'X0/Y47/PIOA'" in log      # G2, by ECP5_CLOCK_LPF
    with pytest.raises(ValueError, match=r"placer must be one of 'heap', 'static', got 'sa'"):
        pnr.ecp5_fmax("popcount_w4", None, tmp_path / "x", placer="sa")
