"""Elaborate generators to Verilog.

``python -m fpga.verilog --all [--out-dir build/verilog]``
    every registered configuration (``fpga/registry.py``: ``CONFIGS`` and the layer engines of
    ``ARRAY_CONFIGS``), one ``<name>.v`` each, one line per file.
``python -m fpga.verilog <generator> --param name=value ... -o file.v [--name module]``
    one custom configuration; values are Python literals (``16``, ``True``, ``'left'``) or bare words.
"""

from __future__ import annotations

import argparse
import ast
import sys
from pathlib import Path

from amaranth.back import verilog
from amaranth.hdl import Value
from amaranth.lib.wiring import In

from hw.pe import PE

__all__ = ["main", "port_summary", "to_verilog"]


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


def _parse_value(text: str):
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text


def _parse_params(items) -> dict:
    params = {}
    for item in items or []:
        if "=" not in item:
            raise SystemExit(f"--param must be name=value, got {item!r}")
        key, value = item.split("=", 1)
        params[key.strip()] = _parse_value(value.strip())
    return params


def main(argv=None) -> int:
    from fpga.registry import ARRAY_CONFIGS, CONFIGS, GENERATORS, build   # (here: the simulator needs to_verilog alone)

    ap = argparse.ArgumentParser(prog="python -m fpga.verilog", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("generator", nargs="?", help=f"one of: {', '.join(sorted(GENERATORS))}")
    ap.add_argument("--param", action="append", metavar="NAME=VALUE", help="generator parameter")
    ap.add_argument("-o", "--output", help="output Verilog file (custom configuration)")
    ap.add_argument("--name", help="Verilog module name (default: the generator name)")
    ap.add_argument("--all", action="store_true", help="every registered configuration")
    ap.add_argument("--out-dir", default="build/verilog", help="directory for --all")
    args = ap.parse_args(argv)

    if args.all:
        out = Path(args.out_dir)
        out.mkdir(parents=True, exist_ok=True)
        for cfg in CONFIGS + ARRAY_CONFIGS:
            comp = cfg.build()
            text = to_verilog(comp, cfg.name)
            path = out / f"{cfg.name}.v"
            path.write_text(text)
            params = " ".join(f"{k}={v}" for k, v in cfg.all_params.items())
            print(f"{str(path):40s} {cfg.generator}({params})  {port_summary(comp)}  "
                  f"{len(text.splitlines())} lines")
        return 0
    if not args.generator:
        ap.error("give a generator name or --all")
    try:
        comp = build(args.generator, _parse_params(args.param))
    except (TypeError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    text = to_verilog(comp, args.name or args.generator)
    if args.output:
        Path(args.output).parent.mkdir(parents=True, exist_ok=True)
        Path(args.output).write_text(text)
        print(f"{args.output}: {args.generator} {port_summary(comp)} {len(text.splitlines())} lines")
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
