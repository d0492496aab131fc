"""The sweep's points: sweep files, command-line ranges and their refusals (sweep/spec.py)."""

import argparse

import pytest

from network.report import pass_length
from sweep.run import _values, main
from sweep.spec import Point, Spec, from_ranges, load_spec, parse_spec


def keys(spec):
    return [p.key for p in spec.points]


def test_grid_product_applies_parameters_to_their_archs_and_dedupes():
    spec = parse_spec({"network": "mnist", "limit": 100, "devices": ["ice40", "ecp5"], "grid": [
        {"arch": ["stripes", "bitvert"], "lanes": [8, 16], "N": [2, 4]},
        {"arch": "stripes", "lanes": 8, "devices": "ice40"},                  # a duplicate: dropped
        {"arch": "bitvert", "lanes": 16, "rows": 2, "cols": 2, "devices": ["ecp5"]}]})
    assert keys(spec) == [
        "stripes_l8@ice40", "stripes_l16@ice40", "stripes_l8@ecp5", "stripes_l16@ecp5",
        "bitvert_l8_n2@ice40", "bitvert_l8_n4@ice40", "bitvert_l16_n2@ice40", "bitvert_l16_n4@ice40",
        "bitvert_l8_n2@ecp5", "bitvert_l8_n4@ecp5", "bitvert_l16_n2@ecp5", "bitvert_l16_n4@ecp5",
        "bitvert_l16_n2_2x2@ecp5"]
    assert (spec.network, spec.limit, spec.timeout) == ("mnist", 100, 3600.0)
    assert [p.method for p in spec.points[3:6]] == ["int8", "bbs_cons", "bbs_mod"]
    assert spec.points[-1].scope == "array" and spec.points[0].scope == "pe"


def test_defaults_and_methods_of_each_arch():
    assert Point("bitbalance", "ice40").key == "bitbalance_l16_k3@ice40"
    assert Point("bitbalance", "ice40", k=2).method == "bitbalance_k2"
    assert Point("ebsp", "ecp5", lanes=8, window=5).method == "ebsp_w5"
    assert Point("parallel", "ice40", multiplier="sb_mac16").name == "parallel_l16_dsp"
    assert Point("parallel", "ecp5").multiplier == "lut"
    assert Point("bitlet", "ice40", lanes=32).method == "bitlet"
    assert Point("pragmatic", "ice40", lanes=4, rows=1, cols=3).name == "pragmatic_l4_1x3"


@pytest.mark.parametrize("grid, message", [
    ({"arch": "stripes", "N": 2}, "grid 1: N applies to bitvert, bitvert_unshared, none of which is in this "
                                  "grid's arch (stripes)"),
    ({"arch": "stripes", "lane": 8}, "grid 1: unknown parameter 'lane'; a grid takes arch, devices, lanes, N, k, "
                                     "window, multiplier, rows, cols (did you mean 'lanes'?)"),
    ({"lanes": 8}, "grid 1 names no arch"),
    ({"arch": "stripe"}, "grid 1: arch must be one of 'stripes', 'pragmatic', 'parallel', 'bitvert', "
                         "'bitvert_unshared', 'bitbalance', 'ebsp', 'bitlet', got 'stripe'"),
    ({"arch": "bitvert", "lanes": 4}, "grid 1: lanes of bitvert must be one of 8, 16, 32, 64, got 4"),
    ({"arch": "bitvert", "N": 3}, "grid 1: N of bitvert must be one of 2, 4, got 3"),
    ({"arch": "stripes", "rows": 2}, "grid 1: rows and cols go together"),
    ({"arch": "bitlet", "rows": 2, "cols": 2}, "grid 1: bitlet has no layer engine"),
    ({"arch": "bitvert_unshared"}, "grid 1: bitvert_unshared is a layer engine only"),
    ({"arch": "parallel", "multiplier": "sb_mac16", "devices": "ecp5"}, "grid 1: multiplier='sb_mac16' is the "
                                                                        "iCE40's DSP block"),
    ({"arch": "stripes", "devices": "ice41"}, "grid 1: device must be one of 'ice40', 'ecp5', got 'ice41'"),
    ({"arch": "stripes", "lanes": []}, "grid 1: lanes is an empty list"),
])
def test_a_bad_grid_is_refused_naming_what_is_wrong(grid, message):
    with pytest.raises((ValueError, TypeError)) as e:
        parse_spec({"grid": [grid]})
    assert str(e.value).startswith(message), str(e.value)


@pytest.mark.parametrize("data, message", [
    ({"grid": []}, "the sweep has no grid"),
    ({"netwrk": "mnist", "grid": [{"arch": "stripes"}]}, "the sweep: unknown key 'netwrk'; a sweep file takes "
                                                         "network, limit, devices, timeout, grid (did you mean 'network'?)"),
    ({"network": "resnet", "grid": [{"arch": "stripes"}]}, "network must be one of 'reference', 'mnist'"),
    ({"timeout": 0, "grid": [{"arch": "stripes"}]}, "timeout must be a number of seconds > 0, got 0"),
    ({"limit": 0, "grid": [{"arch": "stripes"}]}, "limit must be an integer >= 1, got 0"),
    ([1, 2], "the sweep must be a table"),
])
def test_a_bad_sweep_is_refused(data, message):
    with pytest.raises((ValueError, TypeError)) as e:
        parse_spec(data)
    assert str(e.value).startswith(message), str(e.value)


TOML = """
network = "reference"
devices = ["ice40"]
[[grid]]
arch = ["stripes", "ebsp"]
lanes = [4, 8]
window = 4
"""

YAML = """
network: reference
devices: [ice40]
grid:
  - arch: [stripes, ebsp]
    lanes: [4, 8]
    window: 4
"""


def test_toml_and_yaml_files_give_the_same_sweep(tmp_path):
    (tmp_path / "s.toml").write_text(TOML)
    (tmp_path / "s.yaml").write_text(YAML)
    a, b = load_spec(tmp_path / "s.toml"), load_spec(tmp_path / "s.yaml")
    assert a == b
    assert keys(a) == ["stripes_l4@ice40", "stripes_l8@ice40", "ebsp_l4_w4@ice40", "ebsp_l8_w4@ice40"]


def test_bad_files_are_refused(tmp_path):
    (tmp_path / "bad.toml").write_text("network = \n")
    (tmp_path / "s.json").write_text("{}")
    for path, message in [(tmp_path / "bad.toml", "not valid TOML"), (tmp_path / "s.json", "must end in .toml"),
                          (tmp_path / "none.toml", "does not exist")]:
        with pytest.raises(ValueError, match=message):
            load_spec(path)


def test_command_line_ranges():
    assert _values(int)("2..4,8") == [2, 3, 4, 8]
    assert _values(str)("stripes, bitvert") == ["stripes", "bitvert"]
    with pytest.raises(argparse.ArgumentTypeError, match="'x' is not an integer"):
        _values(int)("x")
    spec = from_ranges(["bitbalance"], ["ice40"], k=[2, 4], lanes=[8])
    assert keys(spec) == ["bitbalance_l8_k2@ice40", "bitbalance_l8_k4@ice40"]
    assert spec == Spec(spec.points, "reference", None, 3600.0)


def test_command_line_refusals(capsys, tmp_path):
    (tmp_path / "s.toml").write_text(TOML)
    assert main([str(tmp_path / "s.toml"), "--arch", "stripes"]) == 2
    assert "give a sweep file or --arch and its ranges, not both" in capsys.readouterr().err
    assert main([]) == 2
    assert "nothing to sweep" in capsys.readouterr().err
    assert main(["--arch", "stripes", "--N", "2"]) == 2
    assert "N applies to bitvert, bitvert_unshared" in capsys.readouterr().err
    assert main(["--arch", "stripes", "--jobs", "0"]) == 2
    assert "--jobs must be >= 1, got 0" in capsys.readouterr().err


def test_pass_length_of_a_pe_of_lanes():
    assert [pass_length(c) for c in (3, 16, 24, 80, 1280, 12)] == [3, 16, 8, 16, 16, 12]
    assert [pass_length(c, 0, 8) for c in (3, 16, 24, 12, 1280)] == [3, 8, 8, 4, 8]
    assert pass_length(1280, 32, 64) == 32 and pass_length(96, 0, 64) == 32
    with pytest.raises(ValueError, match="lanes must be a power of two in \\[1, 64\\], got 12"):
        pass_length(16, 0, 12)


def test_cycles_of_an_array_point_are_the_layer_models_on_its_geometry():
    from golden.cycles import layer_cycles
    from network.compress import compress
    from sweep.points import REFERENCE_OUT, _Reference, network_figures
    reqs = [{"arch": "bitvert", "lanes": 8, "rows": 2, "cols": 3, "N": 2, "k": None, "window": None},
            {"arch": "ebsp", "lanes": 16, "rows": None, "cols": None, "N": None, "k": None, "window": 4}]
    fig = network_figures("reference", None, "bbs_cons", reqs[:1])
    [layer] = compress(_Reference().weights, "bbs_cons").layers
    assert list(fig["cycles"].values()) == [layer_cycles(
        "bitvert", layer.q, out_size=REFERENCE_OUT, pe_length=8, array_rows=2, array_cols=3, pruned=2,
        sensitive=layer.sensitive)]
    assert fig["macs"] == 320 * 128 * 9 * 14 * 14 and fig["accuracy"] is None
    fig = network_figures("reference", None, "ebsp_w4", reqs[1:])
    [layer] = compress(_Reference().weights, "ebsp_w4").layers
    assert list(fig["cycles"].values()) == [layer_cycles("ebsp", layer.q, out_size=REFERENCE_OUT, pe_length=16,
                                                         array_rows=1, array_cols=1, window=4)]
    assert fig["bits_per_weight"] == compress(_Reference().weights, "ebsp_w4").bits_per_weight
