"""SymbiYosys (smtbmc + z3) proofs of the LOD and the BBS column decoder against assertion specs."""

import pytest

from sim.formal import ColumnDecoderSpec, LODSpec, prove
from sim.runner import BUILD

pytestmark = pytest.mark.formal


@pytest.mark.parametrize("width", [5, 16, 64])
def test_lod_proof(width):
    ok, log = prove(LODSpec(width), f"lod_w{width}", BUILD / "formal" / f"lod_w{width}")
    assert ok, log[-3000:]


# group size 8 here; the 16-weight decoder of the BitVert PE is checked on all 2**16 columns by the cocotb
# test (tests/hw/bitvert/test_column_decoder.py), which its 40 s proof would only repeat
@pytest.mark.parametrize("gs", [8])
def test_column_decoder_proof(gs):
    ok, log = prove(ColumnDecoderSpec(gs), f"bbs_dec_gs{gs}", BUILD / "formal" / f"bbs_dec_gs{gs}")
    assert ok, log[-3000:]


def test_wrong_specs_are_refuted():
    # the flow can fail: a mutated specification must produce a counterexample
    ok, log = prove(LODSpec(8, mutate=True), "lod_mut", BUILD / "formal" / "lod_mut")
    assert not ok and "FAIL" in log
    ok, log = prove(ColumnDecoderSpec(8, mutate=True), "dec_mut", BUILD / "formal" / "dec_mut")
    assert not ok and "FAIL" in log
