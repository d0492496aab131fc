"""The ``bitsparse`` command: one entry point for what the Makefile runs, each subcommand handing its
arguments to the module that does the work (``python -m fpga.verilog`` and the others keep working).

``bitsparse params <generator>``
    the generator's parameters: type, default, allowed values (:mod:`fpga.params`).
``bitsparse verilog ...``
    :mod:`fpga.verilog` (``--all``, or ``<generator> --param name=value -o file.v``).
``bitsparse synth [NAME ...] [--heavy] [--route-heavy]``
    :mod:`fpga.synth` then :mod:`fpga.pe_report` ``--merge`` (registered configurations; none named: all).
``bitsparse synth <generator> --param name=value ...``
    one configuration of your own: a PE gets Yosys and nextpnr on iCE40 and ECP5 and its PE-table row
    (area, Fmax, cycles, throughput, vs Stripes-16); a block its area-table row (Yosys).
``bitsparse bench``, ``arrays``, ``bitstream``, ``flash``, ``boards``, ``run``, ``report``, ``compress``, ``sweep``
    :mod:`golden.bench`, :mod:`fpga.array_report`, :mod:`fpga.board` (``bitstream``, ``flash``;
    ``boards [report|fits|list]``, default ``report``), :mod:`host.run`, :mod:`network.report`,
    :mod:`network.compress`, :mod:`sweep.run`.

Bad input is one ``error:`` line naming what was wrong and what is allowed, exit status 2.
"""

from __future__ import annotations

import argparse
import sys

__all__ = ["main", "SUBCOMMANDS"]


def _error(message: str) -> int:
    print(f"error: {message}", file=sys.stderr)
    return 2


def _verilog(argv):
    import fpga.verilog as v
    v.PROG = "bitsparse verilog"
    return v.main(argv)


def _bench(argv):
    from golden.bench import main
    return main(argv, prog="bitsparse bench")


def _arrays(argv):
    from fpga.array_report import main
    return main(argv, prog="bitsparse arrays")


def _board(action):
    def run(argv):
        from fpga.board import main
        return main(argv, prog=f"bitsparse {action}", action=action)
    return run


def _boards(argv):
    from fpga.board import main
    actions = ("report", "fits", "list")
    if argv and not argv[0].startswith("-"):
        if argv[0] not in actions:
            from fpga.params import suggest
            return _error(f"bitsparse boards takes one of {', '.join(actions)}, got {argv[0]!r}"
                          + suggest(argv[0], actions))
        return main(argv[1:], prog=f"bitsparse boards {argv[0]}", action=argv[0])
    return main(argv, prog="bitsparse boards", action="report")


def _run(argv):
    from host.run import main
    return main(argv, prog="bitsparse run")


def _report(argv):
    from network.report import main
    return main(argv, prog="bitsparse report")


def _compress(argv):
    from network.compress import main
    return main(argv, prog="bitsparse compress")


def _sweep(argv):
    from sweep.run import main
    return main(argv, prog="bitsparse sweep")


def _params(argv):
    from fpga.params import describe
    from fpga.registry import GENERATORS
    ap = argparse.ArgumentParser(prog="bitsparse params",
                                 description="List a generator's parameters: type, default, allowed values.")
    ap.add_argument("generator", nargs="?", help=f"one of: {', '.join(sorted(GENERATORS))}")
    args = ap.parse_args(argv)
    if not args.generator:
        for g in sorted(GENERATORS):
            print(g)
        return 0
    try:
        sys.stdout.write(describe(args.generator))
    except ValueError as e:
        return _error(str(e))
    return 0


def _synth(argv):
    from fpga.registry import CONFIGS, GENERATORS
    ap = argparse.ArgumentParser(
        prog="bitsparse synth", formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Area (Yosys) and, for PEs, Fmax (nextpnr) and throughput.\n\n"
                    "  bitsparse synth                    every registered configuration (make synth's first steps)\n"
                    "  bitsparse synth NAME ...           these registered configurations\n"
                    "  bitsparse synth GENERATOR --param name=value ...\n"
                    "                                     a configuration of your own: its table row")
    ap.add_argument("names", nargs="*", help="registered configurations, or one generator")
    ap.add_argument("--param", action="append", metavar="NAME=VALUE", help="with a generator: its parameters")
    ap.add_argument("--name", help="with a generator: the configuration's name (default <generator>_<hash>)")
    ap.add_argument("--heavy", action="store_true", help="also the configurations marked heavy")
    ap.add_argument("--route-heavy", action="store_true", help="route the place_only configurations too (hours)")
    ap.add_argument("--no-reference", action="store_true",
                    help="do not characterize stripes_pe_l16 for the vs Stripes-16 columns when it is not kept")
    ap.add_argument("--jobs", type=int, help="parallel tool runs (default: the number of cores)")
    args = ap.parse_args(argv)
    generators = [n for n in args.names if n in GENERATORS]
    if generators or args.param or args.name:
        if len(args.names) != 1 or not generators:
            return _error("--param and --name go with one generator (of "
                          f"{', '.join(sorted(GENERATORS))}), got {' '.join(args.names) or 'none'}")
        if args.heavy or args.route_heavy:
            return _error("--heavy and --route-heavy choose among the registered configurations; "
                          "they take no generator")
        return _synth_custom(generators[0], args)
    if args.no_reference:
        return _error("--no-reference goes with a generator")
    from fpga import pe_report, synth
    names = args.names
    jobs = ["--jobs", str(args.jobs)] if args.jobs else []
    heavy = ["--heavy"] if args.heavy else []
    if names:
        try:
            [synth._registered(n) for n in names]
        except ValueError as e:
            return _error(str(e))
    rc = synth.main(names + heavy + jobs)
    if rc:
        return rc
    rows = {n for n, _ in pe_report.PE_ROWS + pe_report.BLOCK_ROWS}
    pe_names = [n for n in names if n in rows]
    if names and not pe_names:
        return 0
    return pe_report.main(pe_names + ["--merge"] + heavy + (["--route-heavy"] if args.route_heavy else []) + jobs)


def _synth_custom(generator: str, args) -> int:
    """One configuration of ``generator`` from ``--param``: a PE's PE-table row, a block's area-table row."""
    from fpga import pe_report, synth
    from fpga.params import parse_params
    from fpga.registry import GENERATORS
    from hw.pe import PE
    if generator == "layer_engine":
        return _error("layer_engine is characterized by bitsparse arrays (--arch, --shape RxC), not by synth")
    try:
        cfg = pe_report.custom_config(generator, parse_params(generator, args.param), args.name)
    except (TypeError, ValueError) as e:
        return _error(str(e))
    params = " ".join(f"{k}={v}" for k, v in cfg.all_params.items())
    print(f"{cfg.name}: {generator}({params})", flush=True)
    cls = GENERATORS[generator]
    if not (isinstance(cls, type) and issubclass(cls, PE)):
        record = synth.synthesize(cfg, synth.ROOT / "build" / "synth" / cfg.name)
        sys.stdout.write(synth.markdown([record]))
        return 0
    from golden.workloads import bbs_workloads
    workloads = bbs_workloads()
    record = pe_report.characterize(cfg, pe_report.arch_of(generator), workloads)
    reports = pe_report.ROOT / "build" / "reports"
    reference, source = pe_report.reference_record(reports, workloads, compute=not args.no_reference)
    sys.stdout.write(pe_report.markdown([record], reference, source))
    return 0


#: name -> (function of the remaining arguments, one line of help)
SUBCOMMANDS = {
    "params": (_params, "a generator's parameters, defaults and allowed values"),
    "verilog": (_verilog, "elaborate to Verilog: --all, or <generator> --param name=value -o file.v"),
    "synth": (_synth, "area, Fmax, throughput: registered configurations, or <generator> --param ..."),
    "bench": (_bench, "golden-model speed on a ResNet-50-sized network (python -m golden.bench)"),
    "arrays": (_arrays, "layer engines on the ECP5 and the UP5K (python -m fpga.array_report)"),
    "bitstream": (_board("bitstream"), "a board's bitstream: --board icebreaker|ulx3s [--arch --rows --cols]"),
    "flash": (_board("flash"), "build if needed and program the board (--flash: its SPI flash)"),
    "boards": (_boards, "[report|fits|list]: every board's default bitstream into docs/boards.json"),
    "run": (_run, "run real layers on a board (--url) or the simulated board (--sim ARCH)"),
    "report": (_report, "every method on real networks: size, accuracy, speed (build/reports/networks.*)"),
    "compress": (_compress, "compress a model file (.pth, .safetensors, .onnx) with one method"),
    "sweep": (_sweep, "sweep architectures and configurations (a TOML/YAML file or ranges), locally or on Dask"),
}


def usage() -> str:
    """The top-level help: the subcommands, one line each."""
    width = max(map(len, SUBCOMMANDS))
    lines = ["usage: bitsparse <command> [arguments]  (bitsparse <command> --help: its arguments)", "",
             "commands:"]
    lines += [f"  {name:{width}}  {text}" for name, (_, text) in SUBCOMMANDS.items()]
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    """Run ``bitsparse <command> [arguments]`` (``argv``: the arguments, default ``sys.argv[1:]``); returns
    the exit status. An unknown command is one error line naming the commands and the closest."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help"):
        sys.stdout.write(usage())
        return 0 if argv else 2
    command, rest = argv[0], argv[1:]
    if command not in SUBCOMMANDS:
        from fpga.params import suggest
        return _error(f"command must be one of {', '.join(SUBCOMMANDS)}, got {command!r}"
                      + suggest(command, SUBCOMMANDS))
    try:
        return SUBCOMMANDS[command][0](rest) or 0
    except KeyboardInterrupt:
        return _error("interrupted")
