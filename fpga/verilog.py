"""Elaborate generators to Verilog.

``python -m fpga.verilog --all [--out-dir build/verilog]``
    every registered configuration (``fpga/registry.py``: ``CONFIGS`` and the layer engines of
    ``ARRAY_CONFIGS``), one ``<name>.v`` each, one line per file.
``python -m fpga.verilog <generator> --param name=value ... -o file.v [--name module]``
    one custom configuration; each value is parsed by its parameter's type (:mod:`fpga.params`: an int,
    a bool as true/false, yes/no or 1/0, a str as it is); ``<generator> --help`` lists the parameters.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from pathlib import Path

from amaranth.back import verilog
from amaranth.hdl import Value
from amaranth.lib.wiring import In

from hw.pe import PE

__all__ = ["main", "port_summary", "to_verilog", "check_module_name", "check_output_file", "PROG"]

#: the program name in usage lines (bitsparse.cli sets "bitsparse verilog")
PROG = "python -m fpga.verilog"


def to_verilog(component, name: str) -> str:
    """Verilog of ``component`` as module ``name``; a PE's has a comment block first that lists its
    configuration and every field of its input payload (:meth:`hw.pe.PE.payload_text`)."""
    text = verilog.convert(component, name=name, emit_src=False)
    if isinstance(component, PE):
        head = [f"bitsparse: module {name}"] + component.payload_text()
        text = "".join(f"// {line}\n" for line in head) + text
    return text


def port_summary(component) -> str:
    """``in:a[16],b[4]x2 out:c[5]`` from the component's signature (``x2``: an array of 2)."""
    groups = {}
    for path, member, value in component.signature.flatten(component):
        name = "__".join(str(p) for p in path if not isinstance(p, int))
        key = (member.flow == In, name, len(Value.cast(value)))
        groups[key] = groups.get(key, 0) + 1
    def fmt(is_in):
        return ",".join(f"{n}[{w}]" + (f"x{c}" if c > 1 else "")
                        for (i, n, w), c in groups.items() if i == is_in)
    return f"in:{fmt(True)} out:{fmt(False)}"


#: Verilog-2005 reserved words (IEEE 1364-2005, annex B): not a module name
VERILOG_KEYWORDS = frozenset("""
always and assign automatic begin buf bufif0 bufif1 case casex casez cell cmos config deassign default defparam
design disable edge else end endcase endconfig endfunction endgenerate endmodule endprimitive endspecify
endtable endtask event for force forever fork function generate genvar highz0 highz1 if ifnone incdir
include initial inout input instance integer join large liblist library localparam macromodule medium
module nand negedge nmos nor noshowcancelled not notif0 notif1 or output parameter pmos posedge primitive
pull0 pull1 pulldown pullup pulsestyle_onevent pulsestyle_ondetect rcmos real realtime reg release repeat
rnmos rpmos rtran rtranif0 rtranif1 scalared showcancelled signed small specify specparam strong0 strong1
supply0 supply1 table task time tran tranif0 tranif1 tri tri0 tri1 triand trior trireg unsigned use uwire
vectored wait wand weak0 weak1 while wire wor xnor xor""".split())


def check_module_name(name: str) -> str:
    """``name`` if it is a legal Verilog module name (a simple identifier, not a reserved word); else
    ``ValueError`` saying what is allowed."""
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_$]*", name) or name in VERILOG_KEYWORDS:
        why = "a Verilog reserved word" if name in VERILOG_KEYWORDS else "not a Verilog identifier"
        raise ValueError(f"--name must be a Verilog identifier (a letter or _, then letters, digits, _ or $; "
                         f"not a reserved word), got {name!r}: {why}")
    return name


def check_output_file(path: str, option: str = "-o") -> Path:
    """``path`` as a :class:`Path` if a file can be written there; ``ValueError`` naming ``option`` if it is a
    directory or its directory cannot be created or written."""
    p = Path(path)
    if p.is_dir():
        raise ValueError(f"{option} must name a file, got {path!r}, which is a directory "
                         f"(e.g. {str(p / 'module.v')!r})")
    parent = p.parent
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    if not parent.is_dir() or not os.access(parent, os.W_OK | os.X_OK) or (p.exists() and not os.access(p, os.W_OK)):
        raise ValueError(f"{option} must be a writable file path, got {path!r} "
                         f"({str(parent)!r} is {'not writable' if parent.is_dir() else 'not a directory'})")
    return p


def _write(path: Path, text: str, option: str = "-o") -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    except OSError as e:
        raise ValueError(f"{option} must be a writable file path, got {str(path)!r} ({e.strerror})") from None


def main(argv=None) -> int:
    """Elaborate ``--all`` registered configurations, or one generator from ``--param`` values parsed by its
    parameters' types (:mod:`fpga.params`); ``<generator> --help`` lists the generator's parameters. A bad
    name, value or output path prints one ``error:`` line and returns 2."""
    from fpga.params import check_generator, describe, parse_params
    from fpga.registry import ARRAY_CONFIGS, CONFIGS, GENERATORS, build   # (here: the simulator needs to_verilog alone)

    ap = argparse.ArgumentParser(prog=PROG, description=__doc__, add_help=False,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("-h", "--help", action="store_true",
                    help="show this help (with a generator: also its parameters) and exit")
    ap.add_argument("generator", nargs="?", help=f"one of: {', '.join(sorted(GENERATORS))}")
    ap.add_argument("--param", action="append", metavar="NAME=VALUE",
                    help="generator parameter, once each (see --help with a generator, or bitsparse params)")
    ap.add_argument("-o", "--output", help="output Verilog file (custom configuration)")
    ap.add_argument("--name", help="Verilog module name (default: the generator name)")
    ap.add_argument("--all", action="store_true", help="every registered configuration")
    ap.add_argument("--out-dir", default="build/verilog", help="directory for --all")
    args = ap.parse_args(argv)

    try:
        if args.generator:
            check_generator(args.generator)
        if args.help:
            ap.print_help()
            if args.generator:
                print()
                sys.stdout.write(describe(args.generator))
            return 0
        if args.all:
            extra = [f"generator ({args.generator!r})" if args.generator else "",
                     "--param" if args.param else "", "-o" if args.output else "", "--name" if args.name else ""]
            extra = [e for e in extra if e]
            if extra:
                raise ValueError(f"--all builds every registered configuration into --out-dir; it takes no "
                                 f"{', '.join(extra)}")
            out = Path(args.out_dir)
            if out.exists() and not out.is_dir():
                raise ValueError(f"--out-dir must be a directory, got {args.out_dir!r}, which is a file")
            for cfg in CONFIGS + ARRAY_CONFIGS:
                comp = cfg.build()
                text = to_verilog(comp, cfg.name)
                path = out / f"{cfg.name}.v"
                _write(path, text, "--out-dir")
                params = " ".join(f"{k}={v}" for k, v in cfg.all_params.items())
                print(f"{str(path):40s} {cfg.generator}({params})  {port_summary(comp)}  "
                      f"{len(text.splitlines())} lines")
            return 0
        if not args.generator:
            raise ValueError(f"give a generator name or --all (generators: {', '.join(sorted(GENERATORS))})")
        name = check_module_name(args.name) if args.name is not None else args.generator
        output = check_output_file(args.output) if args.output else None
        comp = build(args.generator, parse_params(args.generator, args.param))
        text = to_verilog(comp, name)
        if output:
            _write(output, text)
            print(f"{args.output}: {args.generator} {port_summary(comp)} {len(text.splitlines())} lines")
        else:
            sys.stdout.write(text)
    except (TypeError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
