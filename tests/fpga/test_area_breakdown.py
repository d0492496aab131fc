"""fpga/area_breakdown.py without synthesis: module groups by path, the kept modules of a Verilog text, the
script, and the split of a small hand-written Yosys netlist and stat into groups."""

import pytest

import fpga.area_breakdown as ab


def test_module_groups_by_path():
    assert ab.module_group("") is None and ab.module_group("grid") is None
    assert ab.module_group("grid.datapath_r1c3") == "PE datapaths"
    assert ab.module_group("grid.datapath_r0c0.shifter") == "PE datapaths"
    assert ab.module_group("grid.pe_r0c1") == "PE datapaths"
    assert ab.module_group("grid.mac_r2c1") == "PE datapaths"             # a BitletGrid's MACs
    assert ab.module_group("grid.lanes_r3.lane5") == "row schedulers"     # and its lane schedulers
    assert ab.module_group("grid.scheduler_r2") == "row schedulers"
    assert ab.module_group("grid.scheduler_r2.decoder0") == "row schedulers"
    assert ab.module_group("grid.row_unit_r1") == "row weight units"
    assert ab.module_group("grid.row_unit_r1.lod0") == "row weight units"
    assert ab.module_group("grid.seq_r0") == "row sequencers"
    assert ab.module_group("grid.act_sums_c3") == "column activation sums"
    assert ab.module_group("grid.col_unit_c1") == "column LUTs"
    assert ab.module_group("grid.col_unit_c1.lut0") == "column LUTs"
    assert ab.module_group("conv_address") == "controller"
    assert ab.module_group("something") == "other"


def test_kept_modules_and_script():
    verilog = ("module top(a);\nendmodule\nmodule \\top.grid (a);\nendmodule\n"
               "module \\top.grid.pe_r0c0 (a);\nendmodule\nmodule \\top.grid.pe_r0c0.tree (a);\nendmodule\n")
    assert ab.kept_modules(verilog, "top") == ["top.grid", "top.grid.pe_r0c0"]
    assert ab.kept_modules(verilog, "top", depth=1) == ["top.grid"]
    script = ab.hier_script("ecp5", ["top.grid"])
    lines = script.splitlines()
    assert lines[:3] == ["read_verilog {src}", "hierarchy -top {top}", "setattr -mod -set keep_hierarchy 1 top.grid"]
    assert "abc -lut 4 -dress" in lines and lines[-1] == "write_json netlist.json"
    assert "synth_ice40 -top {top} {json}" in ab.hier_script("ice40", []).splitlines()


def _lut(inputs, out):
    return {"type": "LUT4", "port_directions": {"A": "input", "B": "input", "Z": "output"},
            "connections": {"A": [inputs[0]], "B": [inputs[1] if len(inputs) > 1 else "0"], "Z": [out]}}


def _ff(d, q):
    return {"type": "TRELLIS_FF", "port_directions": {"DI": "input", "CLK": "input", "Q": "output"},
            "connections": {"DI": [d], "CLK": [2], "Q": [q]}}


#: inputs 3, 4 -> LUT a (bit 10) -> LUT b (11) -> FF wb_raw (20) and LUT c (12) -> FF rd_p (21);
#: LUT d (13) reads 20 and feeds the submodule grid's input and the output port peek_data; a CCU2C (14)
#: feeds rd_p's other FF; a DP16KD reads 11; the submodule instance is not counted here
NETLIST = {"modules": {
    "top": {
        "ports": {"clk": {"direction": "input", "bits": [2]}, "x": {"direction": "input", "bits": [3, 4]},
                  "peek_data": {"direction": "output", "bits": [13]}},
        "netnames": {"wb_raw": {"hide_name": 0, "bits": [20]}, "rd_p": {"hide_name": 0, "bits": [21, 22]},
                     "$auto$1": {"hide_name": 1, "bits": [10]}, "\\$5": {"hide_name": 0, "bits": [21]},
                     "peek_data": {"hide_name": 0, "bits": [13]}},
        "cells": {
            "a": _lut([3, 4], 10), "b": _lut([10], 11), "c": _lut([10], 12), "d": _lut([20], 13),
            "ff0": _ff(11, 20), "ff1": _ff(12, 21), "ff2": _ff(14, 22),
            "carry": {"type": "CCU2C", "port_directions": {"A0": "input", "S0": "output"},
                      "connections": {"A0": [3], "S0": [14]}},
            "ram": {"type": "DP16KD", "port_directions": {"ADA0": "input", "DOA0": "output"},
                    "connections": {"ADA0": [11], "DOA0": [30]}},
            "grid": {"type": "top.grid", "port_directions": {"issue__payload": "input"},
                     "connections": {"issue__payload": [13]}},
        }},
    "top.grid": {"ports": {}, "netnames": {}, "cells": {}},
}}


def test_attribute_splits_shared_cells():
    costs, sinks = ab.attribute(NETLIST["modules"]["top"], ab.TOP_RULES, modules=["top", "top.grid"])
    # a reaches wb_raw and the RAM (through b) and rd_p (through c): a third each; b: half write-back,
    # half buffers; c: controller; d: buffers (grid input) and host ports (peek_data); the CCU2C is 2 LUT4
    assert costs["write-back"] == pytest.approx({"lut4": 1 / 3 + 1 / 2, "ff": 1})
    assert costs["controller"] == pytest.approx({"lut4": 1 / 3 + 1 + 2, "ff": 2, "carry": 1})
    assert costs["buffers"] == pytest.approx({"lut4": 1 / 3 + 1 / 2 + 1 / 2, "bram": 1})
    assert costs["host ports"] == pytest.approx({"lut4": 1 / 2})
    assert sum(c.get("lut4", 0) for c in costs.values()) == pytest.approx(4 + 2)
    assert "wb_raw" in sinks["write-back"] and "rd_p" in sinks["controller"]
    assert "grid:issue__payload" in sinks["buffers"] and "port:peek_data" in sinks["host ports"]


def test_summarize_groups_modules_and_instances():
    stat = {"modules": {
        "top": {"num_cells_by_type": {"LUT4": 4, "CCU2C": 1, "TRELLIS_FF": 3, "DP16KD": 1, "top.grid": 1}},
        "top.grid": {"num_cells_by_type": {"top.grid.datapath_r0c0": 1, "top.grid.datapath_r0c1": 1}},
        "top.grid.datapath_r0c0": {"num_cells_by_type": {"LUT4": 10, "CCU2C": 2, "TRELLIS_FF": 5}},
        "top.grid.datapath_r0c1": {"num_cells_by_type": {"LUT4": 12, "TRELLIS_FF": 5}},
    }}
    netlist = {"modules": {**NETLIST["modules"],
                           "top.grid": {"ports": {}, "netnames": {}, "cells": {}}}}
    s = ab.summarize(stat, netlist, "top")
    pe = s["groups"]["PE datapaths"]
    assert pe == {"carry": 2, "ff": 10, "lut4": 26, "instances": 2}
    assert s["per_pe"] == {"carry": 1, "ff": 5, "lut4": 13}
    assert s["pe_detail"]["grid.datapath"] == {"(own logic)": {"lut4": 14, "carry": 2, "ff": 5}}
    assert s["groups"]["controller"]["ff"] == 2
    row = {"groups": s["groups"]}
    lv = ab.level_totals(row)
    assert lv["pe"] == 26 and lv["grid"] == 26 and lv["engine"] == pytest.approx(26 + 6, abs=0.2)  # groups rounded to 0.1
