# amaranth: UnusedElaboratable=no
"""Board top levels, bitstreams and flashing: a layer engine behind the UART of an iCEBreaker or a ULX3S
(docs/link.md, "The host program and the boards").

:class:`BoardTop` puts a :class:`hw.link.top.SerialCore` (UART, host link, layer engine) between the
board's ``uart`` resource (amaranth-boards: the FTDI's second channel on the iCEBreaker, its only one on
the ULX3S) and the board's default clock; nothing else of the board is used. The engine's buffers are
:func:`fpga.array_report.slice_buffers` of its shape: they hold the real layers ``python -m host.run``
runs. The UART's divisor is ``round(clk / baud)`` (:func:`hw.link.uart.divisor_for`), 1 Mbaud by default:
12 on the iCEBreaker (12 MHz), 25 on the ULX3S (25 MHz), both exact.

``python -m fpga.board bitstream --board B [--arch A --rows R --cols C --baud N]`` elaborates, synthesizes
(Yosys), places and routes (nextpnr, the board's clock as the timing constraint, seed 1) and packs
(icepack / ecppack) with the YoWASP tools of the project's dependencies into
``build/boards/<board>_<arch>_<R>x<C>/``; it fails when the design does not fit the FPGA or nextpnr's
Fmax misses the board's clock, and writes ``board.json`` (utilization, Fmax, the tools' versions).
An unchanged design (the same RTLIL, build script and options: ``key`` of ``board.json``) is not built
again. ``python -m fpga.board flash --board B ...`` builds the bitstream when it is missing or out of date
and programs it (``iceprog``; ``openFPGALoader -b ulx3s``) into the FPGA's configuration RAM, or with
``--flash`` into the SPI flash. ``make bitstream`` and
``make flash`` (``BOARD=``, ``ARCH=``, ``ROWS=``, ``COLS=``) call them.

``python -m fpga.board report`` (``make boards``) builds every board's default engine and writes
nextpnr's figures to ``docs/boards.json`` (the test suite checks that record is of the current design);
``python -m fpga.board fits --board B --archs A,... --shapes RxC,...`` tries engines on a board and
merges what fits into ``docs/board_fits.json``. On the iCE40 the engine's parameter buffer goes into
block RAM (``param_ram="block"``), and on both the buffers' read ports are marked collision-free for
Yosys (:data:`NO_RW_CHECK_SCRIPT`).
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import NamedTuple

from amaranth.hdl import ClockDomain, ClockSignal, Elaboratable, Module, ResetSignal, Signal
from amaranth.lib import io

from golden.array import ArrayConfig
from fpga.pnr import _tool
from fpga.synth import run_key, shown
from golden.check import check_choice, check_int

__all__ = ["BOARDS", "BoardSpec", "BoardTop", "PowerOnReset", "board_config", "build_dir_of", "bitstream", "design_key", "flash",
           "fits", "fits_markdown", "markdown", "programmer_command", "report", "main"]


ROOT = Path(__file__).resolve().parent.parent
BUILD = ROOT / "build" / "boards"


class BoardSpec(NamedTuple):
    """A board: its amaranth-boards platform, clock, bitstream file, programmer and default engine."""
    name: str
    platform: str            # module.Class of amaranth-boards
    family: str              # ice40 or ecp5
    clk_hz: int
    bitstream: str           # the file the programmer takes (top.bin, top.bit)
    programmer: tuple        # command before the bitstream, into configuration RAM
    flash_programmer: tuple  # command before the bitstream, into the SPI flash
    install: str             # how to get the programmer
    default: tuple           # (arch, rows, cols) that fits the FPGA

    def make_platform(self):
        module, cls = self.platform.rsplit(".", 1)
        return getattr(importlib.import_module(module), cls)()


_ICEPROG = "Debian/Ubuntu: apt-get install fpga-icestorm (iceprog); or set ICEPROG to its path"
_OFL = "Debian/Ubuntu: apt-get install openfpgaloader; or set OPENFPGALOADER to its path"

#: the boards, by the name ``--board`` / ``BOARD=`` takes
BOARDS = {b.name: b for b in [
    BoardSpec("icebreaker", "amaranth_boards.icebreaker.ICEBreakerPlatform", "ice40", 12_000_000, "top.bin",
              ("iceprog", "-S"), ("iceprog",), _ICEPROG, ("stripes", 1, 1)),
    *[BoardSpec(f"ulx3s-{size}", f"amaranth_boards.ulx3s.ULX3S_{size.upper()}_Platform", "ecp5", 25_000_000,
                "top.bit", ("openFPGALoader", "-b", "ulx3s", "-m"), ("openFPGALoader", "-b", "ulx3s", "-f"), _OFL,
                ("bitvert", 2, 2) if size in ("45f", "85f") else ("stripes", 2, 2))
      for size in ("12f", "25f", "45f", "85f")],
]}
BOARDS["ulx3s"] = BOARDS["ulx3s-85f"]._replace(name="ulx3s")


def board_config(arch: str, rows: int, cols: int) -> ArrayConfig:
    """The engine of a board: ``rows x cols`` of ``arch`` with the buffers of the real layer slices."""
    from fpga.array_report import slice_buffers
    return ArrayConfig(rows=rows, cols=cols, **slice_buffers(arch, rows, cols))


class BoardTop(Elaboratable):
    """The design of a board: :class:`~hw.link.top.SerialCore` of ``arch`` on ``rows x cols`` at ``baud``,
    wired to the platform's ``uart`` 0 and clocked by its default clock.

    ``core``: the SerialCore (``core.core.engine`` the engine, ``core.divisor`` the UART divisor).
    """

    # built without being elaborated by the tests and by ``flash`` (a missing tool): no warning (hw/base.py)
    def __new__(cls, *args, **kwargs):
        return super().__new__(cls, *args, src_loc_at=0, **kwargs)

    def __init__(self, board: str, arch: str, rows: int, cols: int, baud: int = 1_000_000):
        from hw.array.archs import ARCHS, engine
        from hw.link.top import SerialCore
        from hw.link.uart import divisor_for
        self.spec = BOARDS[check_choice("board", board, BOARDS)]
        check_choice("arch", arch, ARCHS)
        rows, cols = check_int("rows", rows, lo=1, hi=16), check_int("cols", cols, lo=1, hi=16)
        self.arch, self.rows, self.cols, self.baud = arch, rows, cols, baud
        # the UP5K's scarce resource is logic cells: its parameter buffer goes into block RAM (LayerEngine)
        eng = engine(arch, board_config(arch, rows, cols), hold_desc=True,
                     param_ram="block" if self.spec.family == "ice40" else "auto")
        self.core = SerialCore(eng, arch=list(ARCHS).index(arch),
                               clk_hz=self.spec.clk_hz, divisor=divisor_for(self.spec.clk_hz, baud))

    def elaborate(self, platform):
        m = Module()
        m.submodules.core = core = self.core
        if platform is not None:
            if self.spec.family == "ecp5":
                self._ecp5_sync(m, platform)
            uart = platform.request("uart", 0, dir="-")
            m.submodules.rx_buf = rx = io.Buffer("i", uart.rx)
            m.submodules.tx_buf = tx = io.Buffer("o", uart.tx)
            m.d.comb += [core.rx.eq(rx.i), tx.o.eq(core.tx)]
        return m

    #: power-on reset of the ECP5 design, in clock cycles
    POR_CYCLES = 255

    def _ecp5_sync(self, m, platform):
        """The sync domain with a reset: Amaranth's ECP5 platforms make ``sync`` reset-less (their GSR
        resets every flip-flop at configuration), but the PEs and the link's soft reset use the
        domain's reset, so the board clocks ``sync`` itself and holds its reset for :data:`POR_CYCLES`
        cycles after configuration (:class:`PowerOnReset`)."""
        clk = io.Buffer("i", platform.request(platform.default_clk, dir="-"))
        m.submodules.clk_buf = clk
        m.domains.sync = ClockDomain("sync")
        m.submodules.por = por = PowerOnReset(self.POR_CYCLES)
        m.d.comb += [ClockSignal("sync").eq(clk.i), ResetSignal("sync").eq(por.rst)]


class PowerOnReset(Elaboratable):
    """A power-on reset: ``rst`` (Out(1)) is high for the first ``cycles`` cycles of the ``sync`` clock
    after configuration, then low for good. Its counter is reset-less (configuration zeroes it), so the
    reset it drives does not restart it; drive ``ResetSignal("sync")`` with ``rst``."""

    def __new__(cls, *args, **kwargs):
        return super().__new__(cls, *args, src_loc_at=0, **kwargs)

    def __init__(self, cycles: int):
        self.cycles = check_int("cycles", cycles, lo=1, hi=1 << 16)
        self.rst = Signal()

    def elaborate(self, platform):
        m = Module()
        timer = Signal(range(self.cycles + 1), reset_less=True)
        with m.If(self.rst):
            m.d.sync += timer.eq(timer + 1)
        m.d.comb += self.rst.eq(timer != self.cycles)
        return m


#: Yosys commands after ``read_rtlil``: a memory with the ``no_rw_check`` attribute (the layer engine's
#: buffers, :data:`hw.array.layer.NO_RW_CHECK`) gets no read-during-write bypass. Yosys honours the
#: attribute where it builds a synchronous read port out of flip-flops (``memory_dff``), but Amaranth's
#: RTLIL has the ports synchronous already, so the script marks them itself (one read and one write port
#: per buffer, asserted); without it the iCE40 build spends about 600 flip-flops and 300 LUTs per engine
#: delaying every write by a cycle
NO_RW_CHECK_SCRIPT = "\n".join([
    "proc",
    "memory_collect",
    "select -assert-none t:$mem_v2 a:no_rw_check %i r:RD_PORTS=1 r:WR_PORTS=1 %i %d",
    "setparam -set RD_COLLISION_X_MASK 1'1 t:$mem_v2 a:no_rw_check %i",
])


def _engine_of(spec: BoardSpec, arch, rows, cols) -> tuple:
    """``(arch, rows, cols)`` with the board's default for each one not given."""
    d_arch, d_rows, d_cols = spec.default
    return arch or d_arch, d_rows if rows is None else rows, d_cols if cols is None else cols


def build_dir_of(board: str, arch: str, rows: int, cols: int) -> Path:
    return BUILD / f"{board}_{arch}_{rows}x{cols}"


def _tool_env(family: str) -> dict:
    """Amaranth's build script takes each tool from an environment variable named after it: set, or the
    YoWASP build next to this Python (:func:`fpga.pnr._tool`, as for the area and Fmax runs)."""
    tools = ["yosys", f"nextpnr-{family}", "icepack" if family == "ice40" else "ecppack"]
    return {**os.environ, **{t.upper().replace("-", "_"): _tool(t.upper().replace("-", "_"), f"yowasp-{t}")
                             for t in tools}}


_UTIL = re.compile(r"^Info:\s+(\w+):\s+(\d+)/\s*(\d+)\s+(\d+)%", re.M)
_FMAX = re.compile(r"Max frequency for clock\s+'([^']*)': ([0-9.]+) MHz \(([A-Z]+) at ([0-9.]+) MHz\)")


def _tool_versions(env: dict, family: str) -> dict:
    out = {}
    for tool in ("YOSYS", f"NEXTPNR_{family.upper()}"):
        try:
            proc = subprocess.run([env[tool], "--version"], capture_output=True, text=True, timeout=120)
            out[tool.lower()] = (proc.stdout + proc.stderr).strip().splitlines()[0]   # nextpnr: on stderr
        except (OSError, IndexError, subprocess.TimeoutExpired):
            out[tool.lower()] = "unknown"
    return out


def bitstream(board: str, arch: str | None = None, rows: int | None = None, cols: int | None = None, *,
              baud: int = 1_000_000, out_dir: Path | None = None, log=print) -> dict:
    """Build the bitstream of ``arch`` (default: the board's) on ``rows x cols``; its ``board.json`` record.

    Raises ``RuntimeError`` when a tool fails, the design does not fit, or the Fmax misses the board's clock.
    """
    spec = BOARDS[check_choice("board", board, BOARDS)]
    plan, key, top, out, (arch, rows, cols) = _plan(board, arch, rows, cols, baud, out_dir)
    out.mkdir(parents=True, exist_ok=True)
    what = f"{board}: {arch} {rows} x {cols} at {spec.clk_hz / 1e6:g} MHz, UART {baud:,} baud (divisor {top.core.divisor})"
    env = _tool_env(spec.family)
    done = out / "board.json"
    if done.exists() and (out / spec.bitstream).exists():
        record = json.loads(done.read_text())
        if record.get("key") == key:
            log(f"{what}: {shown(out / spec.bitstream)} is up to date (Fmax {record['fmax_mhz']:.1f} MHz)")
            return record
    log(f"{what}; building in {shown(out)} (Yosys, nextpnr-{spec.family}; minutes)")
    done.unlink(missing_ok=True)
    plan.extract(str(out))
    script = "build_top.sh"
    proc = subprocess.run(["sh", script], cwd=out, env=env, capture_output=True, text=True)
    (out / "build.log").write_text(proc.stdout + proc.stderr)
    tim = (out / "top.tim").read_text() if (out / "top.tim").exists() else ""
    util = {m[1]: [int(m[2]), int(m[3])] for m in _UTIL.finditer(tim)}
    fmax = [(m[1], float(m[2]), m[3]) for m in _FMAX.finditer(tim)]
    if proc.returncode != 0 or not (out / spec.bitstream).exists():
        over = [f"{cell} {u}/{a}" for cell, (u, a) in util.items() if u > a]
        if over:
            why = "the design does not fit the FPGA: " + ", ".join(over)
        elif fmax and fmax[-1][2] == "FAIL":
            why = (f"timing fails: Fmax {fmax[-1][1]:.1f} MHz for clock {fmax[-1][0]}, below the board's "
                   f"{spec.clk_hz / 1e6:g} MHz")
        else:
            tail = "\n".join((proc.stdout + proc.stderr).strip().splitlines()[-15:])
            why = f"the build script failed (exit code {proc.returncode}):\n{tail}"
        raise RuntimeError(f"{board} bitstream of {arch} {rows} x {cols}: {why} (log: {shown(out / 'build.log')})")
    final = fmax[-1] if fmax else None
    if final is None or final[1] < spec.clk_hz / 1e6:
        raise RuntimeError(f"{board} bitstream of {arch} {rows} x {cols}: nextpnr reports "
                           f"{'no Fmax' if final is None else f'Fmax {final[1]:.1f} MHz'}, the board's clock is "
                           f"{spec.clk_hz / 1e6:g} MHz (log: {shown(out / 'top.tim')})")
    record = {"board": board, "arch": arch, "rows": rows, "cols": cols, "baud": baud, "divisor": top.core.divisor,
              "clk_hz": spec.clk_hz, "fmax_mhz": final[1], "utilization": util,
              "config": dataclasses.asdict(board_config(arch, rows, cols)),
              "bitstream": str(out / spec.bitstream), "tools": _tool_versions(env, spec.family), "key": key}
    done.write_text(json.dumps(record, indent=1) + "\n")
    log(f"{shown(out / spec.bitstream)}: Fmax {final[1]:.1f} MHz (clock {spec.clk_hz / 1e6:g} MHz); "
        + ", ".join(f"{c} {u}/{a}" for c, (u, a) in util.items() if u))
    return record


#: the measured builds of every board's default engine (``python -m fpga.board report``, ``make boards``)
RECORDS = ROOT / "docs" / "boards.json"

#: the boards :func:`report` builds: the two the project targets
REPORT_BOARDS = ("icebreaker", "ulx3s")


def design_key(board: str, arch: str | None = None, rows: int | None = None, cols: int | None = None, *,
               baud: int = 1_000_000) -> str:
    """The ``key`` :func:`bitstream` gives this design (its RTLIL, build script and options) without
    building it: a record with this key was measured on the current design."""
    return _plan(board, arch, rows, cols, baud)[1]


def _plan(board, arch, rows, cols, baud, out=None):
    spec = BOARDS[check_choice("board", board, BOARDS)]
    arch, rows, cols = _engine_of(spec, arch, rows, cols)
    top = BoardTop(board, arch, rows, cols, baud)
    out = Path(out or build_dir_of(board, arch, rows, cols))
    extra = {"nextpnr_opts": "--seed 1", "script_after_read": NO_RW_CHECK_SCRIPT}
    if spec.family == "ecp5":
        extra["synth_opts"] = "-noabc9"        # Yosys 0.70's abc9 aborts on these designs (fpga/pnr.py)
    else:
        extra["synth_opts"] = "-dsp"           # the requantization multiplier in SB_MAC16, not 1000s of LUTs
    # no source locations: the RTLIL, and so the key, is the same in every checkout of the project
    plan = spec.make_platform().build(top, name="top", build_dir=str(out), do_build=False, emit_src=False, **extra)
    key = run_key(plan.files["top.il"], plan.files["build_top.sh"], json.dumps(extra, sort_keys=True))
    return plan, key, top, out, (arch, rows, cols)


def report(boards=REPORT_BOARDS, path: Path = RECORDS, log=print) -> list[dict]:
    """Build the default bitstream of each of ``boards`` (reusing an up-to-date build) and write their
    records to ``path`` (``docs/boards.json``: utilization and Fmax from nextpnr's report, the design's
    ``key``), in ``boards`` order."""
    records = []
    for board in boards:
        r = dict(bitstream(board, log=log))
        r["bitstream"] = str(Path(r["bitstream"]).relative_to(ROOT)) if Path(r["bitstream"]).is_relative_to(ROOT) \
            else r["bitstream"]
        records.append(r)
    Path(path).write_text(json.dumps(records, indent=1) + "\n")
    log(f"{shown(path)}: {len(records)} boards")
    return records


#: which engines fit which board (``python -m fpga.board fits``, ``make boards FITS=1``)
FITS = ROOT / "docs" / "board_fits.json"


def fits(board: str, archs, shapes, path: Path = FITS, log=print) -> list[dict]:
    """Try to build every ``arch`` of ``archs`` at every ``(rows, cols)`` of ``shapes`` on ``board``; merge
    one entry per try into ``path`` (``fits``: it fits and meets the clock; else ``why``; ``utilization``
    and ``fmax_mhz`` as nextpnr reported them, for a design too large the packer's count)."""
    spec = BOARDS[check_choice("board", board, BOARDS)]
    old = json.loads(Path(path).read_text()) if Path(path).exists() else []
    entries = {(e["board"], e["arch"], e["rows"], e["cols"]): e for e in old}
    for arch in archs:
        for rows, cols in shapes:
            entry = {"board": board, "arch": arch, "rows": rows, "cols": cols}
            try:
                r = bitstream(board, arch, rows, cols, log=log)
                entry.update(fits=True, fmax_mhz=r["fmax_mhz"], utilization=r["utilization"], key=r["key"])
            except RuntimeError as e:
                tim = build_dir_of(board, arch, rows, cols) / "top.tim"
                text = tim.read_text() if tim.exists() else ""
                fmax = [float(m[2]) for m in _FMAX.finditer(text)]
                why = str(e).split(": ", 1)[-1].split(" (log:")[0].strip().rstrip(":")
                rpt = build_dir_of(board, arch, rows, cols) / "top.rpt"        # Yosys's own error, if it failed
                errors = [ln.strip() for ln in rpt.read_text().splitlines() if ln.startswith("ERROR:")] \
                    if rpt.exists() and not tim.exists() else []
                if errors:
                    why += f": Yosys {errors[-1]}"
                entry.update(fits=False, why=why,
                             fmax_mhz=fmax[-1] if fmax else None,
                             utilization={m[1]: [int(m[2]), int(m[3])] for m in _UTIL.finditer(text)})
                log(f"{board} {arch} {rows} x {cols}: {entry['why']}")
            entry["clk_hz"] = spec.clk_hz
            entries[(board, arch, rows, cols)] = entry
            Path(path).write_text(json.dumps(sorted(entries.values(), key=lambda e: (
                e["board"], e["arch"], e["rows"] * e["cols"], e["rows"])), indent=1) + "\n")
    return [entries[(board, a, r, c)] for a in archs for r, c in shapes]


def fits_markdown(entries) -> str:
    """The fit table: per board and architecture, each shape tried, its logic use and Fmax, or why not
    (the resources nextpnr ran out of, or the Fmax that missed the clock)."""
    lines = ["| board | engine | fits | logic | Fmax |", "|---|---|---|---:|---:|"]
    for e in entries:
        key = "ICESTORM_LC" if "ICESTORM_LC" in e["utilization"] else "TRELLIS_COMB"
        u, a = e["utilization"].get(key, (0, 0))
        logic = f"{u:,} / {a:,} ({100 * u / a:.0f} %)" if a else "-"
        fmax = f"{e['fmax_mhz']:.1f} MHz" if e.get("fmax_mhz") else "-"
        fit = "yes" if e["fits"] else "no: " + e["why"].split(": ", 1)[-1]
        lines.append(f"| {e['board']} | {e['arch']} {e['rows']} x {e['cols']} | {fit} | {logic} | {fmax} |")
    return "\n".join(lines) + "\n"


def markdown(records) -> str:
    """The board table: engine, clock and Fmax, resources used of the FPGA's."""
    names = {"ICESTORM_LC": "logic cells", "TRELLIS_COMB": "LUT4", "TRELLIS_FF": "FF", "TRELLIS_RAMW": "LUT RAM",
             "ICESTORM_RAM": "block RAM", "DP16KD": "block RAM", "ICESTORM_SPRAM": "SPRAM", "ICESTORM_DSP": "DSP",
             "MULT18X18D": "DSP"}
    lines = ["| board | engine | clock | Fmax | resources used |", "|---|---|---:|---:|---|"]
    for r in records:
        util = r["utilization"]
        used = ", ".join(f"{name} {util[c][0]:,} / {util[c][1]:,} ({100 * util[c][0] / util[c][1]:.0f} %)"
                         for c, name in names.items() if util.get(c, (0, 0))[0])
        lines.append(f"| {r['board']} | {r['arch']} {r['rows']} x {r['cols']}, UART {r['baud']:,} baud | "
                     f"{r['clk_hz'] / 1e6:g} MHz | {r['fmax_mhz']:.1f} MHz | {used} |")
    return "\n".join(lines) + "\n"


def programmer_command(board: str, path: Path, to_flash: bool = False) -> list[str]:
    """The command that programs ``path`` into ``board`` (``ICEPROG`` / ``OPENFPGALOADER`` override the
    tool); raises ``RuntimeError`` naming how to install the tool when it is missing."""
    spec = BOARDS[check_choice("board", board, BOARDS)]
    cmd = list(spec.flash_programmer if to_flash else spec.programmer)
    tool = os.environ.get(cmd[0].upper()) or cmd[0]
    if shutil.which(tool) is None:
        raise RuntimeError(f"{cmd[0]} not found: it programs the {board}. {spec.install}")
    return [tool, *cmd[1:], str(path)]


def flash(board: str, arch: str | None = None, rows: int | None = None, cols: int | None = None, *,
          baud: int = 1_000_000, to_flash: bool = False, log=print) -> None:
    """Program the bitstream of these parameters into ``board``, building it first when it is missing or
    out of date (:func:`bitstream`). Raises ``RuntimeError`` when the programmer is missing or fails."""
    spec = BOARDS[check_choice("board", board, BOARDS)]
    programmer_command(board, Path(spec.bitstream), to_flash)          # a missing tool fails before the build
    record = bitstream(board, arch, rows, cols, baud=baud, log=log)
    cmd = programmer_command(board, Path(record["bitstream"]), to_flash)
    log(" ".join(cmd[:-1] + [shown(cmd[-1])]))
    proc = subprocess.run(cmd)
    if proc.returncode != 0:
        raise RuntimeError(f"{Path(cmd[0]).name} failed (exit code {proc.returncode}): is the {board} plugged in "
                           f"by USB, and may this user open it? (udev rules, or run as root)")


# the actions of main(): build one board's bitstream, program it, list the boards, record the defaults, try fits
ACTIONS = ("bitstream", "flash", "list", "report", "fits")


def main(argv=None, prog: str = "python -m fpga.board", action: str | None = None) -> int:
    """The command line of the board flow: ``action`` (one of ``ACTIONS``) is the first argument of
    ``argv``, or fixed by the caller (``bitsparse bitstream`` and ``bitsparse flash``), in which case
    ``--help`` shows only that action's options. Returns 0, 1 (a tool failed) or 2 (bad arguments)."""
    ap = argparse.ArgumentParser(prog=prog, description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    if action is None:
        ap.add_argument("action", choices=ACTIONS,
                        help="report: build every board's default engine, write docs/boards.json; fits: try "
                             "--archs at --shapes on --board, merge into docs/board_fits.json")
    elif action not in ACTIONS:
        raise ValueError(f"action must be one of {', '.join(ACTIONS)}, got {action!r}")

    # each option and the actions it applies to: with the action fixed only those are offered; given to
    # another action, an option is refused rather than ignored
    options = [
        (("--archs",), {"default": "", "help": "comma-separated architectures (default all)"}, ("fits",)),
        (("--shapes",), {"default": "1x1", "help": "comma-separated RxC shapes (default 1x1)"}, ("fits",)),
        (("--board",), {"default": "icebreaker", "help": f"one of {', '.join(BOARDS)} (default icebreaker)"},
         ("bitstream", "flash", "fits")),
        (("--arch",), {"help": "the architecture (default: the board's, see 'list')"}, ("bitstream", "flash")),
        (("--rows",), {"type": int, "help": "array rows (default: the board's)"}, ("bitstream", "flash")),
        (("--cols",), {"type": int, "help": "array columns (default: the board's)"}, ("bitstream", "flash")),
        (("--baud",), {"type": int, "default": 1_000_000, "help": "UART baud rate (default 1000000)"},
         ("bitstream", "flash")),
        (("--flash",), {"action": "store_true", "help": "write the SPI flash (kept across power cycles)"},
         ("flash",)),
    ]
    for names, kwargs, actions in options:
        if action is None or action in actions:
            help_ = kwargs["help"] if action else f"{'/'.join(actions)}: {kwargs['help']}"
            ap.add_argument(*names, **(kwargs | {"help": help_}))
    args = ap.parse_args(argv)
    if action is not None:
        args.action = action
    for names, kwargs, actions in options:
        dest = names[0].lstrip("-")
        if args.action not in actions and hasattr(args, dest) and getattr(args, dest) != ap.get_default(dest):
            ap.error(f"{names[0]} applies to {' and '.join(actions)}, not to {args.action}")
    if args.action == "list":
        for b in BOARDS.values():
            arch, r, c = b.default
            print(f"{b.name:11s} {b.family} {b.clk_hz / 1e6:g} MHz, default engine {arch} {r} x {c}, "
                  f"programmer {' '.join(b.programmer)}")
        return 0
    try:
        if args.action == "report":
            report()
        elif args.action == "fits":
            from hw.array.archs import ARCHS
            archs = [a for a in args.archs.split(",") if a] or list(ARCHS)
            shapes = [tuple(int(v) for v in sh.lower().split("x")) for sh in args.shapes.split(",")]
            if any(len(sh) != 2 for sh in shapes):
                raise ValueError(f"--shapes must be RxC shapes like 1x1,2x2, got {args.shapes!r}")
            for e in fits(args.board, archs, shapes):
                print(f"{e['board']} {e['arch']} {e['rows']} x {e['cols']}: "
                      + ("fits" if e["fits"] else f"no ({e['why']})"))
        elif args.action == "bitstream":
            bitstream(args.board, args.arch, args.rows, args.cols, baud=args.baud)
        else:
            flash(args.board, args.arch, args.rows, args.cols, baud=args.baud, to_flash=args.flash)
    except (ValueError, TypeError) as e:
        ap.error(str(e))
    except RuntimeError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
