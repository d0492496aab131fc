"""fpga.board: the board tops elaborate through amaranth-boards with the UART on the right pins and the
board's clock as the timing constraint; bad parameters and missing tools are refused by name. The
bitstreams themselves (minutes of nextpnr) are built by ``make boards``, which records nextpnr's figures in
docs/boards.json; a test here checks that record is of the current design and meets the board's clock."""

import json

import pytest

import fpga.board
from fpga.board import (BOARDS, RECORDS, REPORT_BOARDS, BoardTop, bitstream, board_config, design_key, flash,
                        programmer_command)
from fpga.array_report import slice_buffers


@pytest.mark.parametrize("board, pins, clock", [
    ("icebreaker", {"uart_0__rx__io 6", "uart_0__tx__io 9", "clk12_0__io 35"}, "set_frequency clk12_0__io 12.0"),
    ("ulx3s", {'"uart_0__rx__io" SITE "M1"', '"uart_0__tx__io" SITE "L4"', '"clk25_0__io" SITE "G2"'},
     'FREQUENCY PORT "clk25_0__io" 25000000.0 HZ'),
])
def test_board_top_elaborates_with_the_uart_pins_and_the_clock(board, pins, clock):
    spec = BOARDS[board]
    top = BoardTop(board, "stripes", 1, 1)
    assert top.core.divisor == spec.clk_hz // 1_000_000           # 1 Mbaud: 12 and 25, exact
    plan = spec.make_platform().build(top, name="top", do_build=False)
    constraints = next(v for k, v in plan.files.items() if k.endswith((".pcf", ".lpf")))
    for pin in pins:
        assert pin in constraints
    assert clock in constraints
    assert "uart_tx_enable" not in constraints                  # the ULX3S's FTDI TXDEN pin is left alone
    il = plan.files["top.il"]
    for module in ("top.core.core", "top.core.core.engine", "top.core.uart_rx", "top.core.uart_tx"):
        assert f"module \\{module}\n" in il                      # the SerialCore, whole, under the top


def test_board_buffers_hold_the_real_layers_of_host_run():
    cfg = board_config("bitvert", 2, 2)
    assert {k: getattr(cfg, k) for k in slice_buffers("bitvert", 2, 2)} == slice_buffers("bitvert", 2, 2)


def test_every_board_has_a_default_engine_and_a_programmer():
    assert {"icebreaker", "ulx3s", "ulx3s-85f"} <= set(BOARDS)
    for spec in BOARDS.values():
        arch, rows, cols = spec.default
        assert BoardTop(spec.name, arch, rows, cols).spec is spec
        assert spec.programmer[0] in ("iceprog", "openFPGALoader")


def test_bad_parameters_name_themselves():
    with pytest.raises(ValueError, match="board must be one of 'icebreaker'.*got 'arty'"):
        BoardTop("arty", "stripes", 1, 1)
    with pytest.raises(ValueError, match="arch must be one of .*got 'bitnet'"):
        BoardTop("icebreaker", "bitnet", 1, 1)
    with pytest.raises(ValueError, match="rows must be"):
        BoardTop("icebreaker", "stripes", 0, 1)
    with pytest.raises(ValueError, match="clk_hz=12000000 and baud=5000000 give divisor 2, outside"):
        BoardTop("icebreaker", "stripes", 1, 1, baud=5_000_000)
    with pytest.raises(ValueError, match="board must be one of"):
        bitstream("arty")


def test_a_missing_programmer_says_how_to_install_it(monkeypatch, tmp_path):
    monkeypatch.setenv("ICEPROG", str(tmp_path / "no-iceprog"))
    monkeypatch.setenv("OPENFPGALOADER", str(tmp_path / "no-openFPGALoader"))
    with pytest.raises(RuntimeError, match="iceprog not found: it programs the icebreaker. .*fpga-icestorm"):
        flash("icebreaker")
    with pytest.raises(RuntimeError, match="openFPGALoader not found: .*apt-get install openfpgaloader"):
        programmer_command("ulx3s", tmp_path / "top.bit")
    fake = tmp_path / "iceprog"
    fake.write_text("#!/bin/sh\nexit 0\n")
    fake.chmod(0o755)
    monkeypatch.setenv("ICEPROG", str(fake))
    assert programmer_command("icebreaker", tmp_path / "top.bin") == [str(fake), "-S", str(tmp_path / "top.bin")]
    assert programmer_command("icebreaker", tmp_path / "top.bin", to_flash=True) == [str(fake), str(tmp_path / "top.bin")]


def test_the_recorded_bitstreams_are_of_this_design_fit_and_meet_the_board_clock():
    """docs/boards.json is nextpnr's report of each board's default build (make boards): it must be of the
    design as it is now (the key of its RTLIL, build script and options), fit the FPGA and meet the clock."""
    records = json.loads(RECORDS.read_text())
    assert [r["board"] for r in records] == list(REPORT_BOARDS)
    for r in records:
        spec = BOARDS[r["board"]]
        assert (r["arch"], r["rows"], r["cols"]) == spec.default
        assert r["key"] == design_key(r["board"]), \
            f"docs/boards.json: the {r['board']} record is of an older design; run make boards"
        assert r["clk_hz"] == spec.clk_hz and r["fmax_mhz"] >= spec.clk_hz / 1e6
        assert r["utilization"] and all(0 <= used <= avail for used, avail in r["utilization"].values())
        lcs = r["utilization"]["ICESTORM_LC" if spec.family == "ice40" else "TRELLIS_COMB"]
        assert lcs[0] > 1000                                       # the whole engine, not an empty top


def test_flash_without_a_board_says_to_plug_it_in(monkeypatch, tmp_path):
    """The programmer's failure (no board on USB) is a message, not a traceback; the bitstream is built first
    (here a stand-in record: the real build is make bitstream's)."""
    fake = tmp_path / "iceprog"
    fake.write_text("#!/bin/sh\necho \"Can't find iCE FTDI USB device\" >&2\nexit 2\n")
    fake.chmod(0o755)
    monkeypatch.setenv("ICEPROG", str(fake))
    built = []
    monkeypatch.setattr(fpga.board, "bitstream", lambda *a, **k: built.append(a) or {"bitstream": str(tmp_path / "top.bin")})
    with pytest.raises(RuntimeError, match="iceprog failed \\(exit code 2\\): is the icebreaker plugged in by USB"):
        flash("icebreaker", log=lambda *_: None)
    assert built == [("icebreaker", None, None, None)]


def test_the_ecp5_power_on_reset_holds_the_sync_domain_then_releases_it_for_good():
    """Amaranth simulation: the PowerOnReset of the ULX3S top holds ResetSignal("sync") for exactly
    POR_CYCLES cycles, a register of the domain stays at its reset value meanwhile, then counts; the reset
    never comes back (its own counter ignores it)."""
    from amaranth.hdl import ClockDomain, Module, ResetSignal, Signal
    from amaranth.sim import Simulator
    from fpga.board import PowerOnReset

    m = Module()
    m.domains.sync = ClockDomain("sync")
    m.submodules.por = por = PowerOnReset(BoardTop.POR_CYCLES)
    ticks = Signal(16, init=0)
    m.d.sync += ticks.eq(ticks + 1)
    m.d.comb += ResetSignal("sync").eq(por.rst)
    sim = Simulator(m)
    sim.add_clock(1e-6)
    trace = []

    async def bench(ctx):
        for _ in range(BoardTop.POR_CYCLES + 300):
            trace.append((ctx.get(por.rst), ctx.get(ticks)))
            await ctx.tick()

    sim.add_testbench(bench)
    sim.run()
    assert [r for r, _ in trace] == [1] * BoardTop.POR_CYCLES + [0] * 300
    assert [t for _, t in trace] == [0] * (BoardTop.POR_CYCLES + 1) + list(range(1, 300))
