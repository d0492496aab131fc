"""The sweep's Pareto front and plots (sweep/plots.py)."""

import matplotlib.pyplot as plt
import pytest

from sweep.plots import fronts, pareto_front, plots


def test_pareto_front():
    assert pareto_front([]) == []
    assert pareto_front([(1.0, 2.0)]) == [0]
    # (loss, throughput): 1 dominates 0 and 3; 2 has more throughput at more loss
    assert pareto_front([(0.5, 1.0), (0.0, 3.0), (2.0, 5.0), (1.0, 3.0)]) == [1, 2]
    assert pareto_front([(0.0, 1.0), (0.0, 1.0), (0.5, 0.5)]) == [0, 1]        # equal points both kept
    assert pareto_front([(3.0, 1.0), (0.0, 4.0), (1.0, 2.0)]) == [1]
    assert pareto_front([(2.0, 9.0), (1.0, 5.0), (0.0, 1.0)]) == [2, 1, 0]     # by ascending loss


def _rec(name, arch, device, lanes, lut4, fmax, thr, loss, status="ok"):
    return {"name": name, "arch": arch, "device": device, "lanes": lanes, "lut4": lut4, "fmax_mhz": fmax,
            "mmacs_per_s_per_klut": thr, "accuracy_loss": loss, "status": status, "method": "int8"}


RECORDS = [_rec("stripes_l8", "stripes", "ice40", 8, 334, 22.6, 12.0, 0.0),
           _rec("stripes_l16", "stripes", "ecp5", 16, 700, 80.0, 30.0, 0.0),
           _rec("bitvert_l8_n2", "bitvert", "ice40", 8, 703, 16.1, 14.0, 0.1),
           _rec("parallel_l16_dsp", "parallel", "ice40", 16, 532, None, None, 0.0, status="failed")]


def test_plots_write_three_pngs(tmp_path):
    paths = plots(RECORDS, tmp_path / "img")
    assert [p.name for p in paths] == ["pareto.png", "luts_vs_lanes.png", "fmax.png"]
    for p in paths:
        assert p.read_bytes()[:4] == b"\x89PNG"
    assert plt.get_fignums() == []                                   # every figure closed
    # one panel per device: the two-device figure is wider than the one-device one
    one = plots([r for r in RECORDS if r["device"] == "ice40"], tmp_path / "one")
    assert plt.imread(paths[1]).shape[1] > plt.imread(one[1]).shape[1]


def test_plots_with_some_accuracy_missing(tmp_path):
    mixed = RECORDS + [_rec("bitlet_l8", "bitlet", "ecp5", 8, 900, 60.0, 20.0, None)]
    assert [p.name for p in plots(mixed, tmp_path)] == ["pareto.png", "luts_vs_lanes.png", "fmax.png"]


def test_plots_without_accuracy_or_points(tmp_path):
    no_acc = [{**r, "accuracy_loss": None} for r in RECORDS]
    assert all(p.read_bytes()[:4] == b"\x89PNG" for p in plots(no_acc, tmp_path / "a"))
    assert all(p.read_bytes()[:4] == b"\x89PNG" for p in plots([], tmp_path / "b"))


def test_a_record_without_device_is_refused(tmp_path):
    with pytest.raises(ValueError, match="record 1 has no field 'device'"):
        plots([RECORDS[0], {"name": "x", "arch": "stripes"}], tmp_path)
    with pytest.raises(ValueError, match="records must be a list of dicts, got dict"):
        plots({"name": "x"}, tmp_path)
    with pytest.raises(ValueError, match="record 0 must be a dict, got str"):
        plots(["x"], tmp_path)
    with pytest.raises(ValueError, match="record 0: unknown device 'gowin'"):
        plots([{**RECORDS[0], "device": "gowin"}], tmp_path)


def test_fronts_per_device():
    assert fronts(RECORDS) == {"ice40": [RECORDS[0], RECORDS[2]], "ecp5": [RECORDS[1]]}   # 0.0 loss 12, 0.1 loss 14
    assert fronts([{**r, "accuracy_loss": None} for r in RECORDS[:3]])["ice40"] == [
        {**RECORDS[2], "accuracy_loss": None}]          # no accuracy counts as no loss: 14 beats 12
    assert fronts([RECORDS[3]]) == {}                   # a failed point is on no front
