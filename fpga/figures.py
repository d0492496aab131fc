"""Figures of the documentation, drawn from real simulations: ``python -m fpga.figures`` (``make readme``).

``docs/img/pe_contract.png``
    The PE streaming contract (docs/contract.md) as a waveform: a Stripes PE
    (:class:`hw.baselines.stripes.StripesPE`, 3-bit weights, so 3 steps per group, 4 lanes) in the Amaranth
    simulator. A producer offers three groups back to back and holds each offer until it is taken; a
    consumer is ready except for three cycles after the first result appears, so the PE stalls on the
    second group's last step. The results are checked against the golden model before anything is
    drawn, and every value in the picture is a sampled signal.

Needs matplotlib (``pip install -e '.[docs]'``).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "docs" / "img" / "pe_contract.png"

BITS, LANES, ACT_BITS = 3, 4, 8          # 3 steps per group, small numbers in the picture
WEIGHTS = [[1, -2, 3, 0], [-4, 2, -1, 3], [2, 2, -3, 1]]
ACTS = [[5, -3, 2, 7], [1, 4, -2, 6], [-5, 3, 8, 2]]
STALL = 3                                 # cycles the consumer holds o.ready low on the first result
N_CYCLES = 13


def stripes_pe(bits: int, lanes: int, act_bits: int):
    """The simulated PE (the one place that knows the constructor of :class:`StripesPE`)."""
    from golden.baselines import DenseConfig
    from hw.baselines.stripes import StripesPE
    return StripesPE(DenseConfig(bits=bits, pe_length=lanes, act_bits=act_bits))


def simulate() -> dict:
    """Run the scenario; returns one list per signal, sampled once per cycle (the value the clock edge
    at the end of that cycle sees), plus the group letter of each accepted offer."""
    from amaranth.sim import Simulator

    dut = stripes_pe(BITS, LANES, ACT_BITS)
    results = []
    trace = {name: [] for name in ("i.valid", "i.ready", "i.group", "o.valid", "o.ready", "o.payload",
                                   "cycles")}

    async def producer(ctx):
        for g, (w, a) in enumerate(zip(WEIGHTS, ACTS)):
            ctx.set(dut.i.payload.weights, w)
            ctx.set(dut.i.payload.acts, a)
            ctx.set(dut.i.valid, 1)
            await ctx.tick().until(dut.i.ready)              # an offer is held until it is taken
        ctx.set(dut.i.valid, 0)

    async def consumer(ctx):
        ctx.set(dut.o.ready, 1)
        stalled = False
        while len(results) < len(WEIGHTS):
            if ctx.get(dut.o.valid) and not stalled:           # back-pressure on the first result
                ctx.set(dut.o.ready, 0)
                await ctx.tick().repeat(STALL)
                ctx.set(dut.o.ready, 1)
                stalled = True
            _, _, valid, ready, payload = await ctx.tick().sample(dut.o.valid, dut.o.ready, dut.o.payload)
            if valid and ready:
                results.append(payload)

    async def recorder(ctx):
        offered = 0
        signals = (dut.i.valid, dut.i.ready, dut.o.valid, dut.o.ready, dut.o.payload, dut.cycles)
        for _ in range(N_CYCLES):
            _, _, iv, ir, ov, orr, op, cyc = await ctx.tick().sample(*signals)
            for name, v in zip(("i.valid", "i.ready", "o.valid", "o.ready", "o.payload", "cycles"),
                               (iv, ir, ov, orr, op, cyc)):
                trace[name].append(int(v))
            trace["i.group"].append("ABC"[offered] if iv else "")
            offered += bool(iv and ir)

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(producer)
    sim.add_testbench(consumer)
    sim.add_testbench(recorder, background=True)
    sim.run_until(N_CYCLES * 1e-6)

    expected = [int(np.dot(w, a)) for w, a in zip(WEIGHTS, ACTS)]
    got = [int(r) for r in results]
    if got != expected:
        raise SystemExit(f"figures: the PE gave {got}, the golden dot products are {expected}")
    return trace


def draw(trace: dict, path: Path) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.patches import Rectangle

    n = len(trace["cycles"])
    rows = [("clk", "clk"), ("i.valid", "bit"), ("i.ready", "bit"), ("i.payload", "i.group"),
            ("o.valid", "bit"), ("o.ready", "bit"), ("o.payload", "o.payload"), ("cycles", "cycles")]
    fig, ax = plt.subplots(figsize=(11, 4.2), dpi=110)
    h = 0.6                                                     # height of a trace inside its row
    for r, (name, kind) in enumerate(rows):
        y0 = len(rows) - 1 - r
        ax.text(-0.3, y0 + h / 2, name, ha="right", va="center", family="monospace", fontsize=10)
        if kind == "clk":
            xs, ys = [], []
            for c in range(n):
                xs += [c, c, c + 0.5, c + 0.5]
                ys += [0, 1, 1, 0]
            ax.plot(xs + [n], [y0 + h * v for v in ys] + [y0], color="black", lw=1)
            continue
        if kind == "bit":
            vals = trace[name]
            xs = np.repeat(np.arange(n + 1), 2)[1:-1]
            ys = np.repeat(vals, 2)
            ax.plot(xs, y0 + h * ys, color="tab:blue", lw=1.6)
            continue
        # a bus: one box per run of equal values, the value written inside, blank when nothing is offered
        if kind == "i.group":
            vals = trace["i.group"]
        elif kind == "o.payload":
            vals = [str(p) if v else "" for p, v in zip(trace["o.payload"], trace["o.valid"])]
        else:
            vals = [str(v) for v in trace[kind]]
        c = 0
        while c < n:
            e = c
            while e + 1 < n and vals[e + 1] == vals[c]:
                e += 1
            if vals[c] == "":
                ax.plot([c, e + 1], [y0 + h / 2] * 2, color="gray", lw=1)
            else:
                d = 0.12
                ax.plot([c, c + d, e + 1 - d, e + 1, e + 1 - d, c + d, c],
                        [y0 + h / 2, y0 + h, y0 + h, y0 + h / 2, y0, y0, y0 + h / 2], color="tab:green", lw=1.2)
                ax.text((c + e + 1) / 2, y0 + h / 2, vals[c], ha="center", va="center", fontsize=9)
            c = e + 1
    # transfers (valid and ready at the clock edge that ends the cycle) and back-pressure, behind the rows
    def band(first_row, last_row, c, color, alpha):
        lo, hi = len(rows) - 1 - last_row - 0.15, len(rows) - 1 - first_row + h + 0.15
        ax.add_patch(Rectangle((c, lo), 1, hi - lo, color=color, alpha=alpha, lw=0, zorder=0))

    for c in range(n):
        if trace["i.valid"][c] and trace["i.ready"][c]:
            band(1, 3, c, "tab:blue", 0.12)
        if trace["o.valid"][c]:
            band(4, 6, c, "tab:green" if trace["o.ready"][c] else "tab:red", 0.12 if trace["o.ready"][c] else 0.08)
    for c in range(n + 1):
        ax.axvline(c, color="lightgray", lw=0.5, zorder=0)
    for c in range(n):
        ax.text(c + 0.5, len(rows) - 0.15, str(c), ha="center", va="bottom", fontsize=8, color="gray")
    ax.text(-0.3, len(rows) - 0.15, "cycle", ha="right", va="bottom", fontsize=8, color="gray")
    ax.set_xlim(-2.2, n + 0.1)
    ax.set_ylim(-0.3, len(rows) + 0.2)
    ax.axis("off")
    ax.set_title(f"Stripes PE in the Amaranth simulator: {BITS} steps per group, {LANES} lanes", fontsize=10)
    fig.text(0.5, 0.02, "blue: an input transfer (i.valid and i.ready)    green: an output transfer    "
             "red: o.valid held while o.ready is low (the PE stalls)", ha="center", fontsize=8.5, color="dimgray")
    fig.tight_layout(rect=(0, 0.05, 1, 1))
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m fpga.figures", description=__doc__.split("\n")[0])
    parser.add_argument("-o", "--output", type=Path, default=OUT, help="PNG to write (default: %(default)s)")
    args = parser.parse_args(argv)
    trace = simulate()
    draw(trace, args.output)
    print(f"{args.output.relative_to(ROOT) if args.output.is_relative_to(ROOT) else args.output}: "
          f"{len(trace['cycles'])} cycles of a Stripes PE")
    return 0


if __name__ == "__main__":
    sys.exit(main())
