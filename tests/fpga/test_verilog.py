"""fpga/verilog.py and fpga/registry.py: a PE from the command line is built from its configuration and
options; a bad name or value is refused with one line naming it."""

import pytest

from fpga.registry import build, get_config, split_params
from fpga.verilog import main
from golden.baselines import DenseConfig
from golden.ebsp import EBSPConfig


def test_params_split_into_config_and_options():
    assert split_params("parallel_mac", {"bits": 4, "pe_length": 3, "multiplier": "sb_mac16"}) == \
        (DenseConfig(bits=4, pe_length=3), {"multiplier": "sb_mac16"})
    pe = build("ebsp_pe", {"window": 4, "weight_format": "plain"})
    assert pe.config == EBSPConfig(window=4) and pe.weight_format == "plain"
    assert get_config("bitvert_pe_n2").all_params["pruned"] == 2


def test_bad_names_and_values(tmp_path, capsys):
    with pytest.raises(ValueError, match=r"stripes_pe has no parameter 'lanes'; its parameters are bits, "
                                         r"pe_length, act_bits"):
        build("stripes_pe", {"lanes": 8})
    assert main(["stripes_pe", "--param", "lanes=8", "-o", str(tmp_path / "x.v")]) == 2
    assert capsys.readouterr().err == ("error: stripes_pe has no parameter 'lanes'; its parameters are bits, "
                                       "pe_length, act_bits\n")
    assert main(["stripes_pe", "--param", "pe_length=65", "-o", str(tmp_path / "x.v")]) == 2
    assert capsys.readouterr().err == ("error: pe_length must be an integer in [1, 64] (the limit of "
                                       "StripesPE), got 65\n")
    assert not (tmp_path / "x.v").exists()


def test_pe_verilog_starts_with_its_payload_layout(tmp_path):
    out = tmp_path / "s.v"
    assert main(["stripes_pe", "--param", "bits=4", "--param", "pe_length=2", "--param", "act_bits=4",
                 "-o", str(out)]) == 0
    head = out.read_text().splitlines()[:6]
    assert head == ["// bitsparse: module stripes_pe",
                    "// StripesPE(DenseConfig(bits=4, pe_length=2, act_bits=4))",
                    "// i__payload (16 bits), field by field (i, j: array indices):",
                    "//   [3+4i:4i]     weights[i]  weight of lane i, two's complement (i < 2)",
                    "//   [11+4i:8+4i]  acts[i]     activation of lane i, two's complement (i < 2)",
                    "// o__payload: signed 9 bits; the exact dot product of the group"]
