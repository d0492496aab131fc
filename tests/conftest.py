import shutil

import pytest

from sim.runner import build_dir_for, check_verilator


def pytest_collection_modifyitems(config, items):
    if shutil.which("iverilog") is None:
        for item in items:
            if "cocotb" in item.keywords:
                raise pytest.UsageError(
                    "iverilog (Icarus Verilog 11+) is not on PATH; the cocotb tests need it. "
                    "Install it: Debian/Ubuntu 'apt-get install iverilog', Homebrew 'brew install "
                    "icarus-verilog' (or run 'make test', which installs it as root with apt-get).")
    if any(item.get_closest_marker("verilator") for item in items):
        try:
            check_verilator()
        except RuntimeError as e:
            raise pytest.UsageError(f"the tests marked 'verilator' cannot run: {e}") from None


@pytest.fixture
def build_dir(request):
    """A fresh build directory under build/sim/ named after the test."""
    return build_dir_for(request.node.nodeid.split("::", 1)[-1] + "_" + request.node.module.__name__)
