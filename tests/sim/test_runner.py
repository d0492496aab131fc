"""The cocotb runner reports failures (with a waveform) instead of passing or exiting silently."""

import numpy as np
import pytest

from golden.baselines import DenseConfig, stripes_dot
from hw.baselines.stripes import StripesPE
from sim.pe_vectors import write_vectors
from sim.runner import run_cocotb


@pytest.mark.cocotb
def test_wrong_expectation_fails_with_waveform(build_dir, capsys):
    rng = np.random.default_rng(1)
    w, a = rng.integers(-8, 8, (6, 3)), rng.integers(-8, 8, (6, 3))
    cfg = DenseConfig(bits=4, pe_length=3, act_bits=4)
    pe = StripesPE(cfg)
    results = stripes_dot(w, a, cfg)
    results[2] += 1                                    # a deliberately wrong golden value
    vec = write_vectors(build_dir / "vectors.json", pe, pe.pack(w, a), results, [4] * 6)
    with pytest.raises(AssertionError, match=r"cocotb tests failed for stripes_mut .*waveform: .*stripes_mut.fst"):
        run_cocotb(pe, toplevel="stripes_mut", tb_module="sim.tb_pe", build_dir=build_dir,
                   params={"vectors": str(vec)})
    assert (build_dir / "waves" / "stripes_mut.fst").exists()
