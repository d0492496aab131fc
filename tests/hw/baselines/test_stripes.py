import numpy as np
import pytest

from golden.baselines import StripesConfig, stripes_cycle_sums, stripes_dot
from golden.cycles import group_cycles_stripes
from hw.baselines.stripes import StripesPE
from sim.amaranth_sim import run_pe_groups
from sim.pe_vectors import pack_payloads, write_vectors
from sim.runner import run_cocotb


def groups(bits, lanes, act_bits, n, seed):
    rng = np.random.default_rng(seed)
    wlo, whi = -(1 << (bits - 1)), (1 << (bits - 1)) - 1
    alo, ahi = -(1 << (act_bits - 1)), (1 << (act_bits - 1)) - 1
    w = rng.integers(wlo, whi + 1, size=(n, lanes))
    a = rng.integers(alo, ahi + 1, size=(n, lanes))
    corners_w = [np.zeros(lanes, int), np.full(lanes, wlo), np.full(lanes, whi), np.full(lanes, -1)]
    corners_a = [np.full(lanes, alo), np.full(lanes, alo), np.full(lanes, ahi), np.full(lanes, alo)]
    return np.concatenate([corners_w, w]), np.concatenate([corners_a, a])


def test_bad_parameters():
    with pytest.raises(ValueError, match=r"lanes must be an integer in \[1, 64\], got 0"):
        StripesPE(lanes=0)
    with pytest.raises(ValueError, match=r"bits must be an integer in \[2, 16\], got 1"):
        StripesPE(bits=1)


def test_amaranth_results():
    pe = StripesPE(bits=4, lanes=4, act_bits=4)
    w, a = groups(4, 4, 4, 12, seed=2)
    sums = stripes_cycle_sums(w, a, StripesConfig(bits=4, pe_length=4, act_bits=4))
    got = [r for r, _, _ in run_pe_groups(
        pe, [{"weights": [int(v) for v in w[g]], "acts": [int(v) for v in a[g]]} for g in range(len(w))])]
    assert got == sums[:, -1].tolist()


@pytest.mark.cocotb
@pytest.mark.parametrize("bits, lanes, act_bits", [(8, 16, 8), (8, 8, 8), (4, 3, 5)])
def test_cocotb_verilog(bits, lanes, act_bits, build_dir):
    cfg = StripesConfig(bits=bits, pe_length=lanes, act_bits=act_bits)
    w, a = groups(bits, lanes, act_bits, 60, seed=bits * lanes)
    results = stripes_dot(w, a, cfg)
    cycles = group_cycles_stripes(w, bits=bits)          # the cycle model: B per group
    payloads = pack_payloads(StripesPE.weights_layout(bits, lanes), lanes=lanes, act_bits=act_bits,
                             weights=[[int(v) for v in row] for row in w], acts=a)
    vec = write_vectors(build_dir / "vectors.json", payloads, results, cycles)
    run_cocotb(StripesPE(bits, lanes, act_bits), toplevel="stripes_pe", tb_module="sim.tb_pe",
               build_dir=build_dir, params={"vectors": str(vec), "seed": lanes})
