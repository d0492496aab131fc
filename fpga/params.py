"""The parameters of a generator, read from the generator itself, and ``--param name=value`` parsed by them.

:func:`parameters` lists what a generator of :data:`fpga.registry.GENERATORS` is built from: for a PE the
fields of its golden configuration dataclass (``cls.config_class``: annotation, default) and its hardware
options (``cls.options``: the constructor's keyword defaults); for a block its constructor's signature (and
for :func:`fpga.registry.layer_engine` the signature it declares). The allowed values are asked of the
generator's own checks: each parameter in turn is given a value no check accepts and the message of the
check that refuses it (``golden.check``: "width must be an integer in [1, 64], got ...") says what is
allowed; a PE's ``hw_limits`` narrow a configuration's range.

:func:`parse_params` turns ``name=value`` items into keywords by each parameter's type (a bool accepts
true/false, yes/no, 1/0; an int refuses ``abc``), refusing an unknown or a repeated name with the valid
names and the closest one (:mod:`difflib`). Errors are ``ValueError`` with a one-line message.
"""

from __future__ import annotations

import ast
import dataclasses
import difflib
import inspect
import re
import types
import typing
from dataclasses import dataclass

__all__ = ["Param", "parameters", "check_generator", "parse_params", "parse_value", "describe", "suggest"]

#: no check of the generators accepts these (used to read what they do accept)
_PROBES = {int: -999_999, str: "\0?", bool: 2, float: float("nan")}


@dataclass(frozen=True)
class Param:
    """One parameter of a generator: ``kind`` is ``"config"`` (a field of the PE's configuration class),
    ``"option"`` (a PE's hardware option) or ``"keyword"`` (a block's constructor keyword); ``default`` is
    ``inspect.Parameter.empty`` when the parameter is required; ``allowed`` is what its check allows ("" if
    unknown)."""

    name: str
    type: object
    default: object
    kind: str
    allowed: str = ""

    @property
    def required(self) -> bool:
        return self.default is inspect.Parameter.empty

    @property
    def type_name(self) -> str:
        t = self.type
        return t.__name__ if isinstance(t, type) else str(t).replace("typing.", "")


def suggest(name: str, valid) -> str:
    """`` (did you mean 'x'?)`` for the closest of ``valid`` to ``name`` (:func:`difflib.get_close_matches`),
    or ``""`` when none is close."""
    close = difflib.get_close_matches(name, list(valid), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def check_generator(generator: str):
    """The class (or function) of ``generator``; ``ValueError`` listing the generators if there is none
    (:func:`fpga.registry._generator`)."""
    from fpga.registry import _generator
    return _generator(generator)


def _is_pe(cls) -> bool:
    from hw.pe import PE
    return isinstance(cls, type) and issubclass(cls, PE)


def _signature_params(func, kind: str, skip=("self", "config", "extra_members"), only=None) -> list[Param]:
    hints = typing.get_type_hints(func) if not hasattr(func, "__signature__") else {}
    out = []
    for p in inspect.signature(func).parameters.values():
        if p.name in skip or p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD) or (only is not None and p.name not in only):
            continue
        t = hints.get(p.name, p.annotation)
        if t is inspect.Parameter.empty:
            t = type(p.default) if p.default is not inspect.Parameter.empty else object
        out.append(Param(p.name, t, p.default, kind))
    return out


def _raw_parameters(generator: str) -> list[Param]:
    cls = check_generator(generator)
    if _is_pe(cls):
        hints = typing.get_type_hints(cls.config_class)
        fields = [Param(f.name, hints.get(f.name, object),
                        f.default if f.default is not dataclasses.MISSING else inspect.Parameter.empty, "config")
                  for f in dataclasses.fields(cls.config_class)]
        return fields + _signature_params(cls.__init__, "option", only=cls.options)
    return _signature_params(cls.__init__ if isinstance(cls, type) else cls, "keyword")


def _base_values(generator: str, params: list[Param]) -> dict:
    """Values every check accepts: the defaults, and for a required parameter the value of the first
    registered configuration of this generator."""
    from fpga.registry import ARRAY_CONFIGS, CONFIGS
    registered = next((c.all_params for c in CONFIGS + ARRAY_CONFIGS if c.generator == generator), {})
    return {p.name: registered[p.name] if p.required else p.default for p in params
            if not p.required or p.name in registered}


def _allowed(generator: str, p: Param, base: dict) -> str:
    """What the generator's checks allow for ``p``, from the message refusing a value none accepts."""
    from fpga.registry import build
    probe = _PROBES.get(_plain_type(p.type))
    if probe is None:
        return ""
    try:
        build(generator, {**base, p.name: probe})
    except (TypeError, ValueError) as e:
        m = re.match(rf"{re.escape(p.name)} must be (?:an? )?(.*?),? got ", str(e))
        text = m.group(1) if m else ""
    else:
        return ""
    limits = getattr(check_generator(generator), "hw_limits", None) or {}
    if p.name in limits and re.search(r"\[-?\d+, -?\d+\]", text):
        lo, hi = limits[p.name]
        text = re.sub(r"\[-?\d+, -?\d+\]", f"[{lo}, {hi}]", text, count=1)
        text += f" (the limit of {check_generator(generator).__name__})"
    if _plain_type(p.type) is bool:
        text = "true or false (also yes/no, 1/0)"
    return text


def parameters(generator: str) -> list[Param]:
    """Every parameter of ``generator`` with its type, default and allowed values (see the module
    docstring); ``ValueError`` naming the generators if ``generator`` is not one."""
    raw = _raw_parameters(generator)
    base = _base_values(generator, raw)
    if len(base) < len(raw):           # a required parameter with no registered value: no probing
        return raw
    return [dataclasses.replace(p, allowed=_allowed(generator, p, base)) for p in raw]


def describe(generator: str) -> str:
    """The parameter table of ``generator`` as text: one line per parameter (name, type, default, allowed)."""
    cls = check_generator(generator)
    params = parameters(generator)
    if _is_pe(cls):
        head = (f"{generator}: {cls.__name__}({cls.config_class.__name__}(...)"
                + "".join(f", {o}=..." for o in cls.options) + ")")
    else:
        head = f"{generator}: {getattr(cls, '__name__', generator)}(...)"
    rows = [(p.name, p.type_name, "required" if p.required else repr(p.default), p.allowed) for p in params]
    widths = [max(len(r[i]) for r in rows + [("name", "type", "default", "")]) for i in range(3)]
    lines = [head, f"  {'name':{widths[0]}}  {'type':{widths[1]}}  {'default':{widths[2]}}  allowed"]
    for name, tname, default, allowed in rows:
        lines.append(f"  {name:{widths[0]}}  {tname:{widths[1]}}  {default:{widths[2]}}  {allowed}".rstrip())
    if _is_pe(cls):
        fields = [p.name for p in params if p.kind == "config"]
        options = [p.name for p in params if p.kind == "option"]
        lines.append(f"{', '.join(fields)}: fields of {cls.config_class.__name__}"
                     + (f"; {', '.join(options)}: hardware options" if options else ""))
    lines.append("allowed: what the generator's checks accept with the other parameters at their defaults")
    return "\n".join(lines) + "\n"


def _plain_type(t):
    """``int`` for ``int``, ``int | None`` and ``Optional[int]``; ``t`` otherwise."""
    args = typing.get_args(t)
    if (typing.get_origin(t) in (typing.Union, types.UnionType)) and len(args) == 2 and type(None) in args:
        return next(a for a in args if a is not type(None))
    return t


_TRUE, _FALSE = ("true", "yes", "1"), ("false", "no", "0")


def parse_value(name: str, text: str, t):
    """``text`` as a value of type ``t`` for parameter ``name``; ``ValueError`` naming it if it is not one.
    ``none`` is None for an optional type; a str may be quoted (``'left'``)."""
    optional = _plain_type(t) is not t
    t = _plain_type(t)
    if optional and text.lower() == "none":
        return None
    if t is bool:
        if text.lower() in _TRUE:
            return True
        if text.lower() in _FALSE:
            return False
        raise ValueError(f"{name} must be true or false (also yes/no, 1/0), got {text!r}")
    if t is int:
        try:
            return int(text)
        except ValueError:
            raise ValueError(f"{name} must be an integer{' or none' if optional else ''}, got {text!r}") from None
    if t is float:
        try:
            return float(text)
        except ValueError:
            raise ValueError(f"{name} must be a number, got {text!r}") from None
    if t is str:
        if len(text) >= 2 and text[0] == text[-1] and text[0] in "'\"":
            return text[1:-1]
        return text
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text


def parse_params(generator: str, items) -> dict:
    """Keywords of ``generator`` from ``name=value`` items, each value parsed by its parameter's type.
    ``ValueError`` for an item without ``=``, a name given twice, a name the generator does not have (with
    its parameters and the closest name) or a value not of the parameter's type."""
    by_name = {p.name: p for p in _raw_parameters(generator)}
    out, given = {}, {}
    for item in items or []:
        if "=" not in item:
            raise ValueError(f"--param must be name=value, got {item!r}")
        key, text = (s.strip() for s in item.split("=", 1))
        if key not in by_name:
            raise ValueError(f"{generator} has no parameter {key!r}; its parameters are {', '.join(by_name)}"
                             + suggest(key, by_name))
        if key in out:
            raise ValueError(f"--param {key} is given twice ({given[key]!r} and {item!r}): give it once")
        given[key] = item
        out[key] = parse_value(key, text, by_name[key].type)
    return out
