"""The PE benches check the stream rules on both sides: a deliberately broken PE fails them.

Each broken PE wraps a correct Stripes PE and breaks one promise of the contract (hw/pe.py,
docs/contract.md); the generic bench (sim/tb_pe.py, with sim/streams.py's monitor and checker) must
refuse it with the rule it breaks. The correct PE passes the same bench (tests/hw/baselines).
"""

import numpy as np
import pytest
from amaranth.hdl import Module, Mux, ResetSignal, Signal
from amaranth.lib import wiring

from golden.baselines import DenseConfig, stripes_dot
from golden.cycles import group_cycles_stripes
from hw.base import Component
from hw.baselines.stripes import StripesPE
from sim.pe_vectors import write_vectors
from sim.runner import run_cocotb

CFG = DenseConfig(bits=4, pe_length=3, act_bits=4)


class Broken(Component):
    """A Stripes PE behind a wrapper with the same ports that breaks one rule: ``kind`` is

    * ``"payload"``: ``o.payload`` changes in the second cycle of a stall (dropped under back-pressure);
    * ``"ready_in_reset"``: ``i.ready`` is high during reset;
    * ``"withdraws_ready"``: ``i.ready`` is withdrawn every third cycle, so a group the PE should take
      in its predecessor's last step sometimes waits a cycle.
    """

    def __init__(self, kind):
        self.kind = kind
        self.pe = StripesPE(CFG)
        super().__init__(self.pe.signature)

    def elaborate(self, platform):
        m = Module()
        m.submodules.pe = pe = self.pe
        m.d.comb += [pe.clear.eq(self.clear), self.cycles.eq(pe.cycles), pe.i.payload.eq(self.i.payload),
                     pe.o.ready.eq(self.o.ready), self.o.valid.eq(pe.o.valid)]
        stalled = Signal()
        m.d.sync += stalled.eq(self.o.valid & ~self.o.ready)
        phase = Signal(2)                       # 0, 1, 2, 0, ...: never in step with a 4-step group
        m.d.sync += phase.eq(Mux(phase == 2, 0, phase + 1))
        hiccup = phase == 0
        ready = pe.i.ready
        if self.kind == "ready_in_reset":
            ready = pe.i.ready | ResetSignal()
        elif self.kind == "withdraws_ready":
            ready = pe.i.ready & ~hiccup
        m.d.comb += [self.i.ready.eq(ready), pe.i.valid.eq(self.i.valid & ready & ~ResetSignal())]
        if self.kind == "payload":
            m.d.comb += self.o.payload.eq(Mux(stalled, pe.o.payload ^ 1, pe.o.payload))
        else:
            m.d.comb += self.o.payload.eq(pe.o.payload)
        return m


@pytest.mark.cocotb
@pytest.mark.parametrize("kind, testcase, message", [
    ("payload", "random_backpressure", "o.payload changed under back-pressure"),
    ("ready_in_reset", "back_to_back", "i.ready must be low while clear or rst is high"),
    ("withdraws_ready", "back_to_back", "cycles after group"),
])
def test_broken_pe_fails_the_bench(kind, testcase, message, build_dir):
    rng = np.random.default_rng(4)
    w, a = rng.integers(-8, 8, (40, 3)), rng.integers(-8, 8, (40, 3))
    broken = Broken(kind)
    vec = write_vectors(build_dir / "vectors.json", broken.pe, broken.pe.pack(w, a), stripes_dot(w, a, CFG),
                        group_cycles_stripes(w, bits=CFG.bits))
    with pytest.raises(AssertionError, match="1 of 1 cocotb tests failed"):
        run_cocotb(broken, toplevel=f"broken_{kind}", tb_module="sim.tb_pe", build_dir=build_dir,
                   params={"vectors": str(vec), "seed": 2}, testcase=testcase)
    assert message in (build_dir / "run" / "sim.log").read_text()


@pytest.mark.cocotb
def test_wrapper_itself_is_transparent(build_dir):
    """The wrapper with no rule broken passes the whole bench: the failures above are the rules'."""
    rng = np.random.default_rng(4)
    w, a = rng.integers(-8, 8, (40, 3)), rng.integers(-8, 8, (40, 3))
    ok = Broken("none")
    vec = write_vectors(build_dir / "vectors.json", ok.pe, ok.pe.pack(w, a), stripes_dot(w, a, CFG),
                        group_cycles_stripes(w, bits=CFG.bits))
    assert run_cocotb(ok, toplevel="wrapped_ok", tb_module="sim.tb_pe", build_dir=build_dir,
                      params={"vectors": str(vec), "seed": 2}) == 4
