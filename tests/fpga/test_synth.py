"""Synthesis smoke: every registered configuration goes through Yosys (iCE40 and generic CMOS) with no
latch, no combinational loop and a complete transistor estimate."""

import pytest

from golden.primitives import shift_accumulator_width
from fpga.registry import CONFIGS
from fpga.synth import synthesize
from sim.runner import BUILD

pytestmark = pytest.mark.synth


LIGHT = [c for c in CONFIGS if not c.heavy]     # the 64-pair Bitlet PEs take minutes: make synth only


@pytest.mark.parametrize("cfg", LIGHT, ids=[c.name for c in LIGHT])
def test_synthesizes(cfg):
    rec = synthesize(cfg, BUILD / "synth_test" / cfg.name)
    assert rec["name"] == cfg.name and rec["generator"] == cfg.generator
    assert rec["ice40"]["lut4"] > 0 and rec["cmos_transistors"] > 0
    assert rec["ice40"]["ram"] == 0
    dsps = cfg.all_params["pe_length"] if cfg.params.get("multiplier") == "sb_mac16" else 0
    assert rec["ice40"]["dsp"] == dsps
    if cfg.generator == "shift_accumulator":
        # the accumulator register, nothing else
        assert rec["ice40"]["ff"] == shift_accumulator_width(**{k: v for k, v in cfg.params.items()})
    elif cfg.generator.endswith(("_pe", "_mac", "_lane")):
        assert rec["ice40"]["ff"] > 0                         # PEs and their schedulers are sequential
    elif cfg.params.get("register_every", 0) == 0:
        assert rec["ice40"]["ff"] == 0                        # combinational blocks have no state
