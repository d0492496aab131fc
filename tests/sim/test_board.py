"""End to end: the host driver (host/driver.py, host/layer.py), unchanged, against the simulated board
(sim/board.py: the generated Verilog of hw.link.top.SerialCore under Verilator behind a TCP socket):
real EfficientNet-Lite0 layers loaded, run and read back bit-exact with the golden model and with the
cycle count of the cycle model; and a link that corrupts and truncates the
host's frames, which the board drops and reports and the driver resends, losing nothing."""

import pytest

from host.driver import open_board
from host.layer import engine_of
from host.run import LAYERS, run_report
from sim.board import SimulatedBoard
from sim.engine_vectors import real_layer_images


class FlakyPort:
    """A serial port that damages chosen writes: ``corrupt`` (the n-th frame written gets a bit flipped)
    and ``truncate`` (the n-th frame loses its second half)."""

    def __init__(self, port, corrupt=(), truncate=()):
        self.port, self.corrupt, self.truncate = port, set(corrupt), set(truncate)
        self.writes = 0

    def write(self, data):
        self.writes += 1
        data = bytearray(data)
        if self.writes in self.corrupt:
            data[len(data) // 2] ^= 0x04
        if self.writes in self.truncate:
            data = data[:len(data) // 2]
        return self.port.write(bytes(data))

    def __getattr__(self, name):
        return getattr(self.port, name)


@pytest.mark.verilator
# BitVert's engine (the compressed weight format) through a damaged link; the link does not depend on the
# architecture (tests/hw/link/test_core.py runs real layers of several through it in the Amaranth simulator)
@pytest.mark.parametrize("arch", ["bitvert"])
def test_host_driver_runs_real_layers_on_the_simulated_board(arch, build_dir):
    import serial

    with SimulatedBoard(arch, 2, 2, build_dir=build_dir) as sim:
        port = FlakyPort(serial.serial_for_url(sim.url, timeout=0.05), corrupt={3, 9}, truncate={6})
        with open_board(sim.url, port=port, timeout=5.0) as board:
            name, eng = engine_of(board.identity)
            assert name == arch and (board.identity.rows, board.identity.cols) == (2, 2)
            images = dict(real_layer_images(eng, arch, seed=1))
            lines = []
            report = run_report(board, ["expand", "stem"], seed=1, out=lines.append)    # python -m host.run's
            for entry, short in zip(report["layers"], ["expand", "stem"]):
                image = images[LAYERS[short]]
                assert entry["match"] is True and entry["outputs"] == list(image.expected.shape), lines
                assert entry["cycles"] == entry["model_cycles"] == image.cycles.compute
            assert "match the golden model" in lines[1] and "cycles" in lines[2]
            # two corrupted frames answered NAK, one truncated frame dropped after the timeout; each resent
            assert report["link"] == dict(crc_errors=2, timeouts=1, overflows=0, line_errors=0, refused=0,
                                          resends=3, frames=report["link"]["frames"])
            assert board.resends == 3


@pytest.mark.verilator
def test_host_driver_runs_a_real_layer_on_the_simulated_icebreaker_design(build_dir):
    """The iCEBreaker's default engine (Stripes 1 x 1, fpga/board.py), a second architecture end to end."""
    from fpga.board import BOARDS
    arch, rows, cols = BOARDS["icebreaker"].default
    with SimulatedBoard(arch, rows, cols, build_dir=build_dir) as sim:
        with open_board(sim.url, timeout=5.0) as board:
            name, eng = engine_of(board.identity)
            assert name == arch and (board.identity.rows, board.identity.cols) == (rows, cols)
            image = dict(real_layer_images(eng, arch, seed=1))[LAYERS["expand"]]
            lines = []
            report = run_report(board, ["expand"], seed=1, out=lines.append)
            entry, = report["layers"]
            assert entry["match"] is True and entry["outputs"] == list(image.expected.shape), lines
            assert entry["cycles"] == entry["model_cycles"] == image.cycles.compute
            assert report["link"]["crc_errors"] == report["link"]["resends"] == 0
