"""hw/pe.py: the PE base and the payload API, for every registered PE configuration.

Every PE's input word is tiled exactly by its documented fields (no bit twice, none left out), every
field has a meaning, a PE rebuilt from its spec is the same PE, and docs/payloads.md is what the code
generates. The pack -> run -> unpack round trip of each architecture is in its own tests (tests/hw/<arch>),
through the cocotb bench sim/tb_pe.py and the Amaranth-simulator streams.
"""

import itertools

import pytest

from fpga import payloads
from fpga.registry import CONFIGS
from golden.baselines import DenseConfig, PragmaticConfig
from hw.baselines.stripes import StripesPE
from hw.pe import PE

PE_CONFIGS = [c for c in CONFIGS if c.config is not None]


def test_every_pe_is_registered_with_a_config():
    names = {c.generator for c in PE_CONFIGS}
    assert {"stripes_pe", "pragmatic_pe", "parallel_mac", "bitvert_pe", "ebsp_pe", "bitbalance_pe",
            "bitlet_pe"} <= names
    for c in PE_CONFIGS:
        pe = c.build()
        assert isinstance(pe, PE) and pe.config == c.config


@pytest.mark.parametrize("cfg", PE_CONFIGS, ids=lambda c: c.name)
def test_fields_tile_the_input_word(cfg):
    pe = cfg.build()
    width = len(pe.i.payload.as_value())
    owner = [None] * width
    for f in pe.payload_fields():
        assert f.meaning and f.name in type(pe).field_meanings, f"{cfg.name}: field {f.name} has no meaning"
        for idx in itertools.product(*(range(n) for n in f.counts)):
            base = f.offset + sum(i * s for i, s in zip(idx, f.strides))
            for b in range(base, base + f.width):
                assert owner[b] is None, f"{cfg.name}: bit {b} is in {owner[b]} and in {f.name}{list(idx)}"
                owner[b] = f"{f.name}{list(idx)}"
    assert None not in owner, f"{cfg.name}: bit {owner.index(None)} of the input word is in no field"


@pytest.mark.parametrize("cfg", PE_CONFIGS, ids=lambda c: c.name)
def test_spec_rebuilds_the_same_pe(cfg):
    pe = cfg.build()
    again = PE.from_spec(pe.spec())
    assert type(again) is type(pe) and again.config == pe.config
    assert again.payload_text() == pe.payload_text()


def test_config_is_checked():
    with pytest.raises(TypeError, match=r"config must be a golden.baselines.DenseConfig, got "
                                        r"PragmaticConfig\(.*\) of type PragmaticConfig"):
        StripesPE(PragmaticConfig())
    pe = StripesPE(DenseConfig(bits=4, pe_length=2, act_bits=4))
    with pytest.raises(ValueError, match=r"word must be an integer in \[0, 511\], got 512"):
        pe.unpack(512)


def test_payload_doc_is_current():
    assert payloads.main(["--check"]) == 0, "docs/payloads.md is out of date: run python -m fpga.payloads"
