"""End to end: the host driver (host/driver.py, host/layer.py), unchanged, against the simulated board
(sim/board.py: the generated Verilog of hw.link.top.SerialCore under Verilator behind a TCP socket):
real EfficientNet-Lite0 layers loaded, run and read back bit-exact with the golden model and with the
cycle count of the cycle model, for two architectures; and a link that corrupts and truncates the
host's frames, which the board drops and reports and the driver resends, losing nothing."""

import pytest

from host.driver import open_board
from host.layer import engine_of, run_layer
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
@pytest.mark.parametrize("arch", ["stripes", "bitvert"])
def test_host_driver_runs_real_layers_on_the_simulated_board(arch, build_dir):
    import serial

    with SimulatedBoard(arch, 2, 2, build_dir=build_dir) as sim:
        port = FlakyPort(serial.serial_for_url(sim.url, timeout=0.05), corrupt={3, 9}, truncate={6})
        with open_board(sim.url, port=port, timeout=5.0) as board:
            name, eng = engine_of(board.identity)
            assert name == arch and (board.identity.rows, board.identity.cols) == (2, 2)
            for layer, image in real_layer_images(eng, arch, seed=1)[1:]:    # block-8 expand 1x1, the stem
                run = run_layer(board, eng, image, layer)
                assert run.outputs.tolist() == run.expected.tolist(), run.report()
                assert run.cycles == run.model_cycles == image.cycles.compute
            st = board.status()
            # two corrupted frames answered NAK, one truncated frame dropped after the timeout; each resent
            assert (st.crc_errors, st.timeouts, st.overflows, st.line_errors, st.refused) == (2, 1, 0, 0, 0)
            assert board.resends == 3
