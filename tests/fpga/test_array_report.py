"""fpga/array_report.py: the layer-engine rows on the smallest engines (1 x 1, buffers trimmed to the slice):
exact cycles and MACs, consistent rates and ratios, the iCE40 search's order and pruning, the buffer
mapping read from Yosys logs, and the registered engines."""

import json
import re

import numpy as np
import pytest

import fpga.array_report as ar
from fpga.registry import ARRAY_CONFIGS, ENGINE_BUFFERS, build, get_config
from golden.bbs import BBSEncoded, decode
from hw.array.archs import ARCHS

pytestmark = pytest.mark.synth


@pytest.fixture(scope="module")
def rows(tmp_path_factory):
    """Stripes 1 x 1 synthesized for the ECP5 and simulated (seconds each); Stripes-8 and BitVert 1 x 1 by
    their cycle models only."""
    work = tmp_path_factory.mktemp("array")
    return [ar.characterize("stripes", 1, 1, "slice", ecp5=True, place=False, work=work),
            ar.characterize("stripes8", 1, 1, "slice", ecp5=False, sim=False, work=work),
            ar.characterize("bitvert", 1, 1, "slice", ecp5=False, sim=False, work=work)]


def _stripes_cycles(K, P, tiles):
    # golden.array.engine_cycles for 8-step passes on 1 x 1 (latency 1): FILL + the first tile's
    # P * 8 + latency + pes + 3, every later tile's max(P * 8 + latency, pes) + 2
    return 1 + (P * 8 + 1 + 1 + 3) + (tiles - 1) * (P * 8 + 1 + 2)


def test_stripes_row_exact(rows):
    r = rows[0]
    assert (r["name"], r["rows"], r["cols"], r["lanes"], r["weights_per_pass"]) == ("stripes_1x1_slice", 1, 1, 16, 16)
    assert r["config"] == {"weight_depth": 256, "act_depth": 256, "param_depth": 4, "out_depth": 128, "acc_width": 32}
    layers = {(x["name"], x["scope"]): x for x in r["layers"]}
    fc = layers["_fc", "slice"]
    # K = rows + 2 = 3 channels, T = cols + 1 = 2 tokens, P = 1280 / 16 = 80 passes: 3 x 2 tiles
    assert (fc["channels"], fc["inputs"], fc["tokens"], fc["macs"]) == (3, 1280, 2, 3 * 1280 * 2)
    assert fc["measured"] and fc["cycles"] == fc["model_cycles"] == _stripes_cycles(3, 80, 6) == 3861
    stem = layers["_conv_stem", "slice"]
    # 5 x 5 outputs, one pass per tap (C = 3 padded to 16 lanes): 9 passes, 3 x 25 tiles; MACs of the real C
    assert (stem["kernel"], stem["tokens"], stem["macs"]) == (9, 25, 3 * 3 * 9 * 25)
    assert stem["cycles"] == stem["model_cycles"] == _stripes_cycles(3, 9, 75)
    whole = layers["_fc", "whole"]
    assert not whole["measured"] and whole["cycles"] is None and whole["tokens"] == 1
    assert whole["model_cycles"] == _stripes_cycles(1000, 80, 1000) and whole["macs"] == 1000 * 1280
    expand = layers["_blocks.8._expand_conv", "whole"]
    assert expand["tokens"] == 196 and expand["model_cycles"] == _stripes_cycles(480, 5, 480 * 196)
    e = r["ecp5"]
    assert e["lut4"] > r["grid_ecp5_lut4"] > 0 and r["lut4_per_pe"] == r["grid_ecp5_lut4"]
    assert set(e["buffers"]) == {"wmem", "pmem", "omem", "amem0"} and e["buffers"]["wmem"] == "DP16KD"
    assert e["fits"] is None and e["fmax_mhz"] is None and r["ice40"]["note"] == "not run"


def test_rates_and_ratios_follow_from_the_rows(rows, tmp_path):
    written = ar.write(rows, tmp_path)
    assert [r["name"] for r in written] == ["stripes_1x1_slice", "stripes8_1x1_slice", "bitvert_1x1_slice"]
    back = json.loads((tmp_path / "array.json").read_text())
    assert back == json.loads(json.dumps(written))
    s16, s8, bv = back
    for r in back:
        for x in r["layers"]:
            assert x["macs_per_cycle"] == x["macs"] / (x["cycles"] if x["measured"] else x["model_cycles"])
    for x in s16["layers"]:
        assert x["macs_per_cycle_per_klut"] == x["macs_per_cycle"] / (s16["ecp5"]["lut4"] / 1000)
    assert all(x["macs_per_cycle_per_klut"] is None for x in s8["layers"] + bv["layers"])   # no ECP5 run
    # BitVert: 8 window lanes -> Stripes-8; 16 weights per pass -> Stripes-16
    assert bv["lanes"] == 8 and bv["vs_stripes_equal_lanes"]["ref"] == "stripes8_1x1_slice"
    assert bv["vs_stripes_equal_weights"]["ref"] == "stripes_1x1_slice"
    for field, ref in (("vs_stripes_equal_lanes", s8), ("vs_stripes_equal_weights", s16)):
        for x, y, v in zip(bv["layers"], ref["layers"], bv[field]["layers"]):
            assert (v["name"], v["scope"]) == (x["name"], x["scope"]) == (y["name"], y["scope"])
            assert v["macs_per_cycle"] == x["macs_per_cycle"] / y["macs_per_cycle"]
            assert v["macs_per_cycle_per_klut"] is None
        assert bv[field]["ecp5_lut4"] is None
    assert s16["vs_stripes_equal_lanes"]["ref"] == s16["vs_stripes_equal_weights"]["ref"] == s16["name"]
    assert all(v["macs_per_cycle"] == 1.0 for v in s16["vs_stripes_equal_lanes"]["layers"])
    assert s16["vs_stripes_equal_weights"]["ecp5_lut4"] == 1.0
    md = (tmp_path / "array.md").read_text()
    assert md.count("| stripes_1x1_slice |") == 1 + len(s16["layers"])
    assert "- stripes_1x1_slice (ecp5): not in block RAM: pmem -> LUT RAM" in md


def test_bitvert_prunes_the_slice(rows):
    bv = {(x["name"], x["scope"]): x for x in rows[2]["layers"]}
    s8 = {(x["name"], x["scope"]): x for x in rows[1]["layers"]}
    # 16 weights in 6 or 8 cycles against Stripes-8's 8 in 8: fewer cycles on every layer
    for k in bv:
        assert bv[k]["model_cycles"] < s8[k]["model_cycles"]
        assert not bv[k]["measured"] and bv[k]["cycles"] is None


def test_lanes_of_every_architecture():
    got = {a: ar.pe_lanes(a)[0] for a in ARCHS}
    assert got["stripes"] == 16 and got["stripes8"] == 8 and got["bitvert"] == 8
    assert got["bitlet"] == 7                   # one lane per magnitude bit of an INT8 weight
    assert all(got[a] == ARCHS[a].config.pe_length // (2 if a.startswith("bitvert") else 1) for a in ARCHS
               if a != "bitlet")
    with pytest.raises(ValueError, match="arch must be one of .* got 'tpu'"):
        ar.pe_lanes("tpu")


def test_ice40_search_order_and_pruning():
    """A fake flow: 1200 LUT4 per PE plus 2000; synthesis fits up to 5280, place and route needs 400 more."""
    calls = []

    def try_shape(arch, r, c, place):
        calls.append((r, c, place))
        lut = 2000 + 1200 * r * c
        if lut > ar.ICE40_UP5K["lut4"] or (place and lut + 400 > ar.ICE40_UP5K["lut4"]):
            return {"fits": False, "reason": f"{lut} LUT4"}
        return {"fits": True if place else None, "reason": "ok"}

    shape, tries = ar.ice40_search("stripes", try_shape=try_shape)
    # 2 PEs: 4400 + 400 fits; 3 PEs: 5600 does not; a 2-PE tie goes to the one with more rows
    assert shape == (2, 1)
    synth = [(r, c) for r, c, p in calls if not p]
    assert synth == [(1, 1), (1, 2), (2, 1), (1, 3), (3, 1), (2, 2)]        # the rest contain a too-large shape
    assert [(r, c) for r, c, p in calls if p] == [(2, 1)]
    result = {(t["rows"], t["cols"]): t["result"] for t in tries}
    assert result[(2, 1)] == "fits" and result[(1, 2)] == result[(1, 1)] == "not placed"
    assert result[(2, 2)] == result[(3, 1)] == "does not fit"
    assert result[(4, 4)] == "skipped" and len(tries) == 16

    def no_room(arch, r, c, place):          # synthesis always fits, placement never
        return {"fits": False if place else None, "reason": "no BELs"}

    shape, tries = ar.ice40_search("stripes", try_shape=no_room, shapes=[(1, 1), (1, 2)])
    assert shape is None and [t["result"] for t in tries] == ["does not fit", "does not fit"]


def test_buffer_mapping_from_yosys_logs():
    text = ("mapping memory engine_x.wmem via $__ICE40_RAM4K_\n"
            "mapping memory engine_x.amem0 via $__PDPW16KD_\n"
            "mapping memory engine_x.omem via $__TRELLIS_DPR16X4_\n"
            "Mapping memory \\pmem in module \\engine_x:\n")
    assert ar.buffer_mapping(text, ["wmem", "pmem", "omem", "amem0"]) == \
        {"wmem": "SB_RAM40_4K", "pmem": "FF", "omem": "LUT RAM", "amem0": "DP16KD"}
    with pytest.raises(RuntimeError, match="maps no buffer named 'amem1'"):
        ar.buffer_mapping(text, ["amem1"])


def test_slice_buffers_hold_the_slice():
    # Stripes-8 1 x 1: 3 channel tiles x 160 passes = 480 weight words; 2 token tiles x 160 activation words
    assert ar.slice_buffers("stripes8", 1, 1) == {"weight_depth": 512, "act_depth": 512, "param_depth": 4,
                                                 "out_depth": 128, "acc_width": 32}
    # 4 x 4, 16 lanes: 2 x 80 weight words, the stem's 121-pixel map, 6 x 25 outputs
    assert ar.slice_buffers("bitvert", 4, 4) == {"weight_depth": 256, "act_depth": 256, "param_depth": 2,
                                                "out_depth": 256, "acc_width": 32}
    with pytest.raises(ValueError, match="rows must be an integer in \\[1, 64\\], got 0"):
        ar.slice_buffers("stripes", 0, 1)


def test_registered_engines(tmp_path):
    assert [c.name for c in ARRAY_CONFIGS] == [f"engine_{a}_4x4" for a in ARCHS]
    cfg = get_config("engine_bitvert_4x4")
    assert cfg.params == {"arch": "bitvert", "rows": 4, "cols": 4, **ENGINE_BUFFERS}
    eng = build("layer_engine", {"arch": "stripes8", "rows": 2, "cols": 1, "weight_depth": 16})
    assert (eng.config.rows, eng.config.cols, eng.config.weight_depth, eng.pe.input_lanes) == (2, 1, 16, 8)
    with pytest.raises(ValueError, match="layer_engine has no parameter 'lanes'; its parameters are arch, rows"):
        build("layer_engine", {"lanes": 8})
    with pytest.raises(ValueError, match="arch must be one of 'stripes', .* got 'tpu'"):
        build("layer_engine", {"arch": "tpu"})
    from fpga.verilog import main
    out = tmp_path / "e.v"
    assert main(["layer_engine", "--param", "arch=stripes8", "--param", "rows=1", "--param", "cols=1",
                 "--param", "weight_depth=8", "--param", "act_depth=8", "--param", "param_depth=2",
                 "--param", "out_depth=8", "-o", str(out), "--name", "engine_t"]) == 0
    assert "module engine_t(" in out.read_text()


def test_ecp5_flow_per_architecture():
    from fpga.array_report import ecp5_flow_of as ecp5_flow
    assert ecp5_flow("stripes") == ("heap", "router1")
    assert ecp5_flow("bitlet") == ("static", "router1")
    assert ecp5_flow("bitlet", router="router2") == ("static", "router2")
    assert ecp5_flow("bitlet", placer="heap") == ("heap", "router1")
    assert ecp5_flow("bitvert", placer="static") == ("static", "router1")
    with pytest.raises(ValueError, match=r"arch='nope'.*allowed: .*stripes"):
        ecp5_flow("nope")


def test_cache_merges_what_other_runs_wrote(tmp_path):
    path = tmp_path / "c.json"
    a, b = ar.Cache(path), ar.Cache(path)
    a.put("k1", {"lut4": 1})
    b.put("k2", {"lut4": 2})              # b never saw k1, and keeps it
    assert json.loads(path.read_text()) == {"k1": {"lut4": 1}, "k2": {"lut4": 2}}
    assert ar.Cache(path).get("k1") == {"lut4": 1} and list(tmp_path.iterdir()) == [path]
    assert ar.CACHE.name == "array_cache.json" and ar.CACHE.parent.name == "docs"


def test_cache_prunes_what_this_run_did_not_use_and_refuses_a_bad_file(tmp_path):
    path = tmp_path / "c.json"
    ar.Cache(path).put("old", 1)
    c = ar.Cache(path)
    c.put("new", 2)
    assert c.get("old") == 1 and c.get("gone") is None
    c2 = ar.Cache(path)
    assert c2.get("new") == 2
    assert c2.prune() == 1 and json.loads(path.read_text()) == {"new": 2}
    path.write_text("{not json")
    with pytest.raises(ValueError, match=r"cache .*c\.json: not JSON .*delete it"):
        ar.Cache(path)
    path.write_text("[1, 2]")
    with pytest.raises(ValueError, match=r"c\.json: holds a list, not an object"):
        ar.Cache(path)


def test_committed_cache_holds_step_results():
    """docs/array_cache.json (make synth's step results, reused by a clone) loads, keyed by SHA-256."""
    data = ar.Cache(ar.CACHE).data
    assert data and all(re.fullmatch(r"[0-9a-f]{64}", k) for k in data), "docs/array_cache.json: bad keys"
    assert all(isinstance(v, (dict, list)) and v for v in data.values())
