"""The bitsparse command (bitsparse/cli.py) and what it relies on: fpga.params (parameters from the
generators, --param parsed by type), fpga.verilog's refusals, the synth errors of fpga.synth and
fpga.pe_report, the named vs Stripes-16 reference, the progress lines of long steps."""

import importlib
import json
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from bitsparse.cli import SUBCOMMANDS, main
from fpga import pe_report, synth
from fpga.params import describe, parameters, parse_params
from fpga.registry import build

ROOT = Path(__file__).resolve().parent.parent
GENERATOR_LIST = ("adder_tree, barrel_shifter, bbs_column_decoder, bitbalance_pe, bitlet_lane, bitlet_mac, bitlet_pe, "
                  "bitvert_pe, ebsp_lut, ebsp_pe, layer_engine, lod, parallel_mac, popcount, pragmatic_pe, "
                  "shift_accumulator, stripes_pe")


def run(capsys, *argv):
    """``(exit status, stdout, stderr)`` of ``bitsparse argv``."""
    rc = main(list(argv))
    out = capsys.readouterr()
    return rc, out.out, out.err


def test_script_is_registered_and_packaged():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    target = project["project"]["scripts"]["bitsparse"]
    module, func = target.split(":")
    assert getattr(importlib.import_module(module), func) is main
    assert "bitsparse*" in project["tool"]["setuptools"]["packages"]["find"]["include"]


def test_python_dash_m_bitsparse():
    r = subprocess.run([sys.executable, "-m", "bitsparse", "--help"], cwd=ROOT, capture_output=True, text=True)
    assert r.returncode == 0 and r.stdout.startswith("usage: bitsparse <command> [arguments]")
    assert [line.split()[0] for line in r.stdout.splitlines()[3:]] == list(SUBCOMMANDS)


def test_unknown_command(capsys):
    assert run(capsys, "synt") == (2, "", "error: command must be one of params, verilog, synth, bench, arrays, "
                                           "bitstream, flash, boards, run, report, compress, sweep, got 'synt' (did you "
                                           "mean 'synth'?)\n")


def test_params_of_a_block(capsys):
    assert run(capsys, "params", "barrel_shifter") == (0, (
        "barrel_shifter: BarrelShifter(...)\n"
        "  name        type  default   allowed\n"
        "  width       int   required  integer in [1, 48]\n"
        "  max_shift   int   required  integer in [1, 48]\n"
        "  direction   str   'left'    one of 'left', 'right'\n"
        "  arithmetic  bool  False     true or false (also yes/no, 1/0)\n"
        "allowed: what the generator's checks accept with the other parameters at their defaults\n"), "")


def test_params_of_a_pe_come_from_its_config_class_and_options(capsys):
    rc, out, _ = run(capsys, "params", "ebsp_pe")
    assert rc == 0 and out.splitlines()[0] == "ebsp_pe: EBSPPE(EBSPConfig(...), weight_format=...)"
    assert "  pe_length      int   16         integer in [1, 64] (the limit of EBSPPE)" in out
    assert "  weight_format  str   'encoded'  one of 'plain', 'encoded'" in out
    assert "bits, window, pe_length, act_bits, lut_sharing: fields of EBSPConfig; weight_format: hardware options" in out
    assert [p.name for p in parameters("layer_engine")] == ["arch", "rows", "cols", "weight_depth", "act_depth",
                                                             "param_depth", "out_depth", "acc_width"]


def test_params_misspelled_generator(capsys):
    assert run(capsys, "params", "bitvert") == (
        2, "", f"error: generator must be one of {GENERATOR_LIST}, got 'bitvert' (did you mean 'bitvert_pe'?)\n")


def test_values_parsed_by_type():
    for text, value in [("false", False), ("No", False), ("0", False), ("TRUE", True), ("yes", True), ("1", True)]:
        assert parse_params("bitlet_mac", [f"act_signed={text}"]) == {"act_signed": value}
    mac = build("bitlet_mac", parse_params("bitlet_mac", ["n_total=4", "n_lanes=2", "x_width=4",
                                                          "act_signed=false", "acc_width=12"]))
    assert mac.act_signed is False                      # an unsigned MAC (a bare word used to be refused)
    assert parse_params("barrel_shifter", ["direction='right'", "width=8"]) == {"direction": "right", "width": 8}
    assert parse_params("pragmatic_pe", ["sync_group=none"]) == {"sync_group": None}
    with pytest.raises(ValueError, match=r"^act_signed must be true or false \(also yes/no, 1/0\), got 'maybe'$"):
        parse_params("bitlet_mac", ["act_signed=maybe"])


def test_verilog_refusals(capsys, tmp_path):
    v = str(tmp_path / "x.v")
    cases = [
        (["lod", "--param", "width=abc", "-o", v], "error: width must be an integer, got 'abc'"),
        (["lod", "--param", "width=4", "--param", "width=5", "-o", v],
         "error: --param width is given twice ('width=4' and 'width=5'): give it once"),
        (["lod", "--param", "widht=4", "-o", v],
         "error: lod has no parameter 'widht'; its parameters are width (did you mean 'width'?)"),
        (["lodd"], f"error: generator must be one of {GENERATOR_LIST}, got 'lodd' (did you mean 'lod'?)"),
        (["--all", "lod"], "error: --all builds every registered configuration into --out-dir; it takes no "
                           "generator ('lod')"),
        (["popcount", "--param", "width=4", "-o", str(tmp_path)],
         f"error: -o must name a file, got '{tmp_path}', which is a directory (e.g. '{tmp_path / 'module.v'}')"),
        (["popcount", "--param", "width=4", "--name", "2x", "-o", v],
         "error: --name must be a Verilog identifier (a letter or _, then letters, digits, _ or $; not a reserved "
         "word), got '2x': not a Verilog identifier"),
        (["popcount", "--param", "width=4", "--name", "module", "-o", v],
         "error: --name must be a Verilog identifier (a letter or _, then letters, digits, _ or $; not a reserved "
         "word), got 'module': a Verilog reserved word"),
    ]
    for argv, err in cases:
        assert run(capsys, "verilog", *argv) == (2, "", err + "\n"), argv
    (tmp_path / "file").write_text("")
    assert run(capsys, "verilog", "lod", "--param", "width=4", "-o", str(tmp_path / "file" / "x.v")) == (
        2, "", f"error: -o must be a writable file path, got '{tmp_path / 'file' / 'x.v'}' "
               f"('{tmp_path / 'file'}' is not a directory)\n")
    ro = tmp_path / "ro"
    ro.mkdir(mode=0o500)
    if not (sys.platform != "win32" and __import__("os").access(ro, __import__("os").W_OK)):   # not as root
        assert run(capsys, "verilog", "lod", "--param", "width=4", "-o", str(ro / "x.v")) == (
            2, "", f"error: -o must be a writable file path, got '{ro / 'x.v'}' ('{ro}' is not writable)\n")
    assert not (tmp_path / "x.v").exists()


def test_verilog_of_a_block_and_its_help(capsys, tmp_path):
    out = tmp_path / "sub" / "lod4.v"
    assert run(capsys, "verilog", "lod", "--param", "width=4", "--name", "my_lod", "-o", str(out)) == (
        0, f"{out}: lod in:data[4] out:index[2],valid[1] {len(out.read_text().splitlines())} lines\n", "")
    assert "module my_lod(" in out.read_text()
    rc, text, _ = run(capsys, "verilog", "lod", "--help")
    assert rc == 0 and text.startswith("usage: bitsparse verilog [-h]")
    assert text.endswith("\n" + describe("lod"))


def test_delegation(monkeypatch, capsys):
    calls = []
    for module in ("fpga.board", "golden.bench", "fpga.array_report", "host.run"):
        monkeypatch.setattr(f"{module}.main", lambda argv, m=module, **kw: calls.append((m, argv, kw)) or 0)
    assert main(["bitstream", "--board", "ulx3s"]) == 0
    assert main(["flash", "--flash"]) == 0
    assert main(["boards"]) == main(["boards", "fits", "--board", "ulx3s"]) == 0
    assert main(["bench", "--scale", "0.1"]) == main(["arrays", "--jobs", "2"]) == main(["run", "--sim", "bitvert"]) == 0
    assert calls == [
        ("fpga.board", ["--board", "ulx3s"], {"prog": "bitsparse bitstream", "action": "bitstream"}),
        ("fpga.board", ["--flash"], {"prog": "bitsparse flash", "action": "flash"}),
        ("fpga.board", [], {"prog": "bitsparse boards", "action": "report"}),
        ("fpga.board", ["--board", "ulx3s"], {"prog": "bitsparse boards fits", "action": "fits"}),
        ("golden.bench", ["--scale", "0.1"], {"prog": "bitsparse bench"}),
        ("fpga.array_report", ["--jobs", "2"], {"prog": "bitsparse arrays"}),
        ("host.run", ["--sim", "bitvert"], {"prog": "bitsparse run"})]
    assert run(capsys, "boards", "fit") == (2, "", "error: bitsparse boards takes one of report, fits, list, got "
                                                   "'fit' (did you mean 'fits'?)\n")


def test_synth_of_registered_configurations_runs_synth_then_the_pe_report(monkeypatch):
    calls = []
    monkeypatch.setattr(synth, "main", lambda argv: calls.append(("synth", argv)) or 0)
    monkeypatch.setattr(pe_report, "main", lambda argv: calls.append(("pe_report", argv)) or 0)
    assert main(["synth"]) == main(["synth", "--heavy", "--route-heavy"]) == 0
    assert main(["synth", "lod_w16"]) == main(["synth", "bitvert_pe_n2", "lod_w16", "--jobs", "1"]) == 0
    assert calls == [("synth", []), ("pe_report", ["--merge"]),
                     ("synth", ["--heavy"]), ("pe_report", ["--merge", "--heavy", "--route-heavy"]),
                     ("synth", ["lod_w16"]),
                     ("synth", ["bitvert_pe_n2", "lod_w16", "--jobs", "1"]),
                     ("pe_report", ["bitvert_pe_n2", "--merge", "--jobs", "1"])]


def test_synth_errors(capsys):
    assert synth.main(["lod_w61"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: configuration must be one of lod_w16, lod_w64, ")
    assert err.endswith(", got 'lod_w61' (did you mean 'lod_w64'?)\n")
    assert pe_report.main(["stripes_pe_l61"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: configuration must be one of the PE table's stripes_pe_l8, stripes_pe_l16, ")
    assert err.endswith(", got 'stripes_pe_l61' (did you mean 'stripes_pe_l16'?)\n")
    assert pe_report.main(["lod_w16"]) == 2
    assert capsys.readouterr().err.endswith(", got 'lod_w16' (lod_w16 is a registered configuration outside the "
                                            "PE table: its area is python -m fpga.synth lod_w16)\n")
    assert run(capsys, "synth", "lod_w16", "--param", "width=3") == (
        2, "", f"error: --param and --name go with one generator (of {GENERATOR_LIST}), got lod_w16\n")
    assert run(capsys, "synth", "bitvert_pe", "--param", "lanes=32") == (
        2, "", "error: bitvert_pe has no parameter 'lanes'; its parameters are bits, group, pruned, const_bits, "
               "subgroup, pe_length\n")
    assert run(capsys, "synth", "bitvert_pe", "--param", "pe_length=20") == (
        2, "", "error: pe_length must be an integer in [8, 64] and a multiple of subgroup=8, got 20\n")


def _record(name, lut4, mpc):
    w = [{"name": n, "cycles_per_group": 16 / mpc, "macs_per_cycle": mpc, "macs_per_cycle_per_klut": mpc / lut4 * 1000}
         for n in ("int8", "cons", "mod")]
    return {"name": name, "arch": "bitvert", "ice40": {"lut4": lut4, "carry": 1, "ff": 2, "dsp": 0, "fmax_mhz": 20.0},
            "ecp5": {"lut4": lut4, "ff": 2, "fmax_mhz": 50.0}, "cmos_transistors": 1000, "workloads": w, "notes": []}


def test_vs_stripes_16_names_its_reference():
    row = _record("mine", 1000, 4.0)
    ref = _record("stripes_pe_l16", 500, 2.0)
    with_ref = pe_report.markdown([row], ref, "its row of build/reports/pe.json").splitlines()
    assert with_ref[2].endswith("| 2.00x | 2.00x, 2.00x |")
    assert with_ref[-1] == "- vs Stripes-16: stripes_pe_l16, its row of build/reports/pe.json"
    without = pe_report.markdown([row], None, "not computed (--no-reference)").splitlines()
    assert without[2].endswith("| n/a | n/a, n/a |")
    assert without[-1] == "- vs Stripes-16: n/a, stripes_pe_l16 is not in this table (not computed (--no-reference))"
    # another Stripes row is not taken for the reference
    assert pe_report.markdown([row, dict(_record("stripes_pe_l8", 300, 1.0), arch="stripes")]).splitlines()[2] \
        .endswith("| n/a | n/a, n/a |")
    assert "vs Stripes-16" not in pe_report.markdown([row, ref]).split("|\n", 2)[-1].split("\n", 1)[-1]


def test_reference_record_kept_or_not(tmp_path):
    from fpga.registry import get_config
    kept = dict(_record("stripes_pe_l16", 500, 2.0), params=get_config("stripes_pe_l16").all_params)
    (tmp_path / "pe.json").write_text(json.dumps([kept]))
    assert pe_report.reference_record(tmp_path, {}, compute=False) == (kept, f"its row of {tmp_path / 'pe.json'}")
    (tmp_path / "pe.json").write_text(json.dumps([dict(kept, params={"bits": 4})]))      # made from another config
    assert pe_report.reference_record(tmp_path, {}, compute=False) == (
        None, f"not in {tmp_path / 'pe.json'} and not computed (--no-reference)")


def test_synth_of_a_custom_pe_prints_its_row(monkeypatch, capsys):
    seen = {}

    def characterize(cfg, arch, workloads, route_heavy=False):
        seen["cfg"], seen["arch"] = cfg, arch
        return _record(cfg.name, 2000, 6.0)

    monkeypatch.setattr(pe_report, "characterize", characterize)
    monkeypatch.setattr(pe_report, "reference_record",
                        lambda reports, workloads, compute: (_record("stripes_pe_l16", 500, 2.0), "characterized now"))
    rc, out, err = run(capsys, "synth", "bitvert_pe", "--param", "pruned=3", "--param", "pe_length=32",
                       "--name", "my_bitvert")
    assert (rc, err) == (0, "")
    cfg = seen["cfg"]
    assert (cfg.name, cfg.generator, seen["arch"]) == ("my_bitvert", "bitvert_pe", "bitvert")
    assert cfg.config.pruned == 3 and cfg.config.pe_length == 32
    lines = out.splitlines()
    assert lines[0] == "my_bitvert: bitvert_pe(bits=8 group=32 pruned=3 const_bits=6 subgroup=8 pe_length=32)"
    assert lines[1].startswith("| PE | arch | iCE40 LUT4 |") and lines[3].startswith("| my_bitvert | bitvert | 2000 |")
    assert lines[3].endswith("| 4.00x | 3.00x, 3.00x |")
    assert lines[-1] == "- vs Stripes-16: stripes_pe_l16, characterized now"
    default = pe_report.custom_config("bitvert_pe", {"pruned": 3, "pe_length": 32})
    assert default.name == pe_report.custom_config("bitvert_pe", {"pe_length": 32, "pruned": 3}).name
    assert default.name.startswith("bitvert_pe_") and len(default.name) == len("bitvert_pe_") + 8


def test_step_prints_progress_and_an_estimate_from_kept_runs(tmp_path):
    lines = []
    for name, seconds in [("a", 10.0), ("b", 30.0)]:
        d = tmp_path / name / "ecp5_pnr"
        d.mkdir(parents=True)
        (d / "run_time.json").write_text(json.dumps({"name": name, "component": "BitVertPE", "seconds": seconds}))
    other = tmp_path / "c" / "ecp5_pnr"
    other.mkdir(parents=True)
    (other / "run_time.json").write_text(json.dumps({"name": "c", "component": "BitletPE", "seconds": 3600.0}))
    work = tmp_path / "new" / "ecp5_pnr"
    work.mkdir(parents=True)
    with synth.step("new", "Yosys and nextpnr-ecp5", work, "BitVertPE", log=lines.append):
        pass
    assert lines[0] == f"new: Yosys and nextpnr-ecp5 running in {work}; estimate 10.0 s to 30.0 s (kept runs of BitVertPE: 2)"
    assert lines[1].startswith("new: Yosys and nextpnr-ecp5 done in 0.") and lines[1].endswith(" s")
    assert json.loads((work / "run_time.json").read_text())["component"] == "BitVertPE"
    assert synth.past_run_times(work, "new", "BitVertPE") == [("a", 10.0), ("b", 30.0), ("new", 0.0)]


@pytest.mark.synth
def test_synth_of_a_custom_block_runs_yosys(capsys):
    rc, out, err = run(capsys, "synth", "popcount", "--param", "width=4", "--name", "cli_popcount_w4")
    assert rc == 0
    lines = out.splitlines()
    assert lines[0] == "cli_popcount_w4: popcount(width=4)"
    assert lines[3].startswith("| cli_popcount_w4 | popcount | width=4 | ")
    assert lines[-1].startswith("Yosys ") and lines[-1].endswith("`synth; dffunmap; abc -g cmos2; stat -tech cmos`.")


def test_help_of_every_subcommand_names_it_and_shows_only_its_options(capsys):
    usage = {"bench": "usage: bitsparse bench [-h] [--out OUT] [--scale SCALE] [--only ONLY]\n",
             "bitstream": "usage: bitsparse bitstream [-h] [--board BOARD] [--arch ARCH] [--rows ROWS]\n",
             "flash": "usage: bitsparse flash [-h] [--board BOARD] [--arch ARCH] [--rows ROWS]\n",
             "boards": "usage: bitsparse boards [-h]\n",
             "arrays": "usage: bitsparse arrays [-h]\n",
             "run": "usage: bitsparse run [-h] (--url URL | --sim ARCH) [--rows ROWS] [--cols COLS]\n"}
    for command, first in usage.items():
        with pytest.raises(SystemExit) as e:
            main([command, "--help"])
        assert e.value.code == 0
        out = capsys.readouterr().out
        assert out.startswith(first), (command, out[:200])
    with pytest.raises(SystemExit):
        main(["boards", "fits", "--help"])
    out = capsys.readouterr().out
    assert out.startswith("usage: bitsparse boards fits [-h] [--archs ARCHS] [--shapes SHAPES]\n")
    assert "[--flash]" not in out and "[--baud BAUD]" not in out


def test_an_option_of_another_board_action_is_refused_not_ignored(capsys):
    from fpga.board import main as board_main
    with pytest.raises(SystemExit) as e:
        board_main(["report", "--arch", "bitvert"])
    assert e.value.code == 2
    assert capsys.readouterr().err.endswith("error: --arch applies to bitstream and flash, not to report\n")
    with pytest.raises(SystemExit):
        main(["bitstream", "--archs", "bitvert"])
    assert capsys.readouterr().err.endswith("error: unrecognized arguments: --archs bitvert\n")
