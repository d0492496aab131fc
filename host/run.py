"""Run real layers on a board, or on the simulated board, and report what the link and the engine took
(docs/link.md).

``python -m host.run --url /dev/ttyUSB1`` talks to a flashed board (``make flash``);
``python -m host.run --sim bitvert`` builds the simulated board (the same SerialCore under Verilator,
:mod:`sim.board`) and talks to it through a TCP socket, with the same driver.

The board is identified (``IDENT``: architecture, array shape, buffer depths, clock, UART divisor), the
layers of :func:`sim.engine_vectors.real_layer_images` for that architecture and shape (real
EfficientNet-Lite0 weights, INT8 per channel, processed by the method) are loaded, run and read back,
and each is checked: the outputs against the golden model, bit for bit, and the board's cycle counter
against the cycle model. A layer that does not fit the board's buffers is skipped with the reason.
The report gives per layer the bytes sent, the link's wall time, the engine's cycles and their time at
the board's clock, and the link's error counters; ``--json`` writes it as JSON. The exit status is 0
when every layer run matches, 1 when one does not, 2 on a usage or link error.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
from pathlib import Path

from golden.link import Buffer
from host.driver import LinkError, open_board
from host.layer import engine_of, run_layer

__all__ = ["LAYERS", "fits", "run_report", "main"]

#: short names of the real layers (sim.engine_vectors.real_layers)
LAYERS = {"fc": "_fc", "expand": "_blocks.8._expand_conv", "stem": "_conv_stem"}


def fits(image, ident) -> str | None:
    """Why ``image`` does not fit the buffers of the board ``ident`` describes; None when it fits."""
    depths = ident.depths()
    need: dict = {}
    for buffer, addr, _ in image.load:
        need[Buffer(buffer)] = max(need.get(Buffer(buffer), 0), addr + 1)
    k, t = image.expected.shape
    need[Buffer.OUTPUTS] = k * t
    for buffer, words in need.items():
        if words > depths[buffer]:
            return f"needs {words} words of the {buffer.name} buffer, the board has {depths[buffer]}"
    return None


def run_report(board, layers=tuple(LAYERS), seed: int = 1, out=print) -> dict:
    """Run ``layers`` (short names of :data:`LAYERS`) on ``board``; the report as a dict."""
    from sim.engine_vectors import real_layer_images
    ident = board.identity
    arch, eng = engine_of(ident)
    out(f"board at {board.url}: {arch} {ident.rows} x {ident.cols}, buffers (weights, acts, params, outputs) "
        f"{ident.weight_depth}, {ident.act_depth}, {ident.param_depth}, {ident.out_depth} words, "
        f"clock {ident.clk_hz / 1e6:g} MHz, UART {ident.baud:,.0f} baud (divisor {ident.divisor})")
    images = dict(real_layer_images(eng, arch, seed=seed))
    report = {"url": board.url, "arch": arch, "rows": ident.rows, "cols": ident.cols, "clk_hz": ident.clk_hz,
              "baud": ident.baud, "seed": seed, "layers": []}
    for short in layers:
        name = LAYERS[short]
        why = fits(images[name], ident)
        if why:
            out(f"{name}: skipped, {why}")
            report["layers"].append({"layer": name, "skipped": why})
            continue
        run = run_layer(board, eng, images[name], name)
        out(run.report())
        report["layers"].append({"layer": name, "match": run.match, "outputs": list(run.expected.shape),
                                 "cycles": run.cycles, "model_cycles": run.model_cycles,
                                 "bytes_sent": run.bytes_sent, "link_seconds": round(run.link_seconds, 3),
                                 "compute_seconds": run.compute_seconds})
    st = board.status()
    report["link"] = {"frames": st.frames, "crc_errors": st.crc_errors, "timeouts": st.timeouts,
                      "overflows": st.overflows, "line_errors": st.line_errors, "refused": st.refused,
                      "resends": board.resends}
    out(f"link: {st.frames} frames received by the board, {st.crc_errors} CRC errors, {st.timeouts} timeouts, "
        f"{st.overflows} overflows, {st.line_errors} line errors, {st.refused} refused; "
        f"{board.resends} frames resent by the host")
    return report


def main(argv=None, prog: str = "python -m host.run") -> int:
    ap = argparse.ArgumentParser(prog=prog, description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    where = ap.add_mutually_exclusive_group(required=True)
    where.add_argument("--url", help="the board's serial port (/dev/ttyUSB1, COM3) or any pyserial URL "
                                     "(socket://host:port for a simulated board served by python -m sim.board)")
    where.add_argument("--sim", metavar="ARCH", help="build and run the simulated board of architecture ARCH")
    ap.add_argument("--rows", type=int, default=2, help="with --sim: array rows (default 2)")
    ap.add_argument("--cols", type=int, default=2, help="with --sim: array columns (default 2)")
    ap.add_argument("--baud", type=int, default=1_000_000, help="with --url on a serial port (default 1000000)")
    ap.add_argument("--layers", default=",".join(LAYERS),
                    help=f"comma-separated, of {', '.join(LAYERS)} (default: all)")
    ap.add_argument("--seed", type=int, default=1, help="seed of the random INT8 activations (default 1)")
    ap.add_argument("--timeout", type=float, help="seconds to wait for a response before resending (default 1; with "
                                                 "--sim 10: the simulation moves a few hundred bytes a second)")
    ap.add_argument("--json", type=Path, help="also write the report to this JSON file")
    args = ap.parse_args(argv)
    layers = [s.strip() for s in args.layers.split(",") if s.strip()]
    bad = [s for s in layers if s not in LAYERS]
    if bad or not layers:
        ap.error(f"--layers: unknown layer {', '.join(map(repr, bad)) or '(none given)'}; "
                 f"allowed: {', '.join(LAYERS)}")
    with contextlib.ExitStack() as stack:
        url = args.url
        if args.sim:
            from sim.board import SimulatedBoard
            try:
                sim = SimulatedBoard(args.sim, args.rows, args.cols)
            except (ValueError, TypeError) as e:
                ap.error(str(e))
            print(f"building the simulated {args.sim} {args.rows} x {args.cols} board (Verilator) ...", flush=True)
            url = stack.enter_context(sim).url
        try:
            timeout = args.timeout if args.timeout is not None else 10.0 if args.sim else 1.0
            board = stack.enter_context(open_board(url, baud=args.baud, timeout=timeout))
            report = run_report(board, layers, seed=args.seed)
        except LinkError as e:
            print(f"error: {e}", file=sys.stderr)
            return 2
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=1) + "\n")
        print(f"report written to {args.json}")
    return 0 if all(r.get("match", True) for r in report["layers"]) else 1


if __name__ == "__main__":
    sys.exit(main())
