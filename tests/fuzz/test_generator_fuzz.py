"""Fuzz every registered generator's constructor (fpga.registry.GENERATORS) with parameter dicts.

Each parameter is drawn valid-ish (near its default or a registered configuration's value), hostile
(tests/fuzz/harness.py), or as the command line passes it: a ``name=value`` string parsed by
:func:`fpga.params.parse_params` (which may refuse it first). The constructor must build the Amaranth
component or raise ``TypeError``/``ValueError`` naming a parameter; nothing is elaborated (too slow).
"""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fpga import params as fparams
from fpga import registry

from .harness import FUZZ, HOSTILE, REFUSED, call

_TEXT = st.one_of(st.sampled_from(["8", "16", "-1", "0", "true", "false", "yes", "none", "abc", "1.5", "'left'",
                                   "right", "lut", "encoded", "plain", "fp32", "stripes", "bitvert", "", "1e9",
                                   str(2 ** 70)]), st.text(max_size=6))


def _near(value):
    """Values near a registered or default value: the value itself, neighbours, and for ints a small range."""
    if isinstance(value, bool):
        return st.booleans()
    if isinstance(value, int):
        return st.one_of(st.just(value), st.integers(max(0, value - 4), value + 4), st.integers(1, 64))
    if isinstance(value, str):
        return st.sampled_from([value, "left", "right", "lut", "sb_mac16", "encoded", "plain", "fixed", "fp32",
                                "shift_add", "double_add", "stripes", "bitvert", "ebsp", "bitbalance", "pragmatic"])
    return st.just(value)


def _bases(generator):
    """The parameter dicts of the registered configurations of ``generator`` (at least one, maybe empty)."""
    found = [c.all_params for c in registry.CONFIGS + registry.ARRAY_CONFIGS if c.generator == generator]
    return found or [{}]


@pytest.mark.parametrize("generator", sorted(registry.GENERATORS))
@FUZZ
@given(d=st.data())
def test_constructor(generator, d):
    base = dict(d.draw(st.sampled_from(_bases(generator)), label="registered"))
    raw = fparams._raw_parameters(generator)
    kwargs, texts = {}, []
    for p in raw:
        default = base.get(p.name, None if p.required else p.default)
        how = d.draw(st.integers(0, 99), label=f"{p.name}: 0-59 near, 60-74 text, 75-89 hostile, else default")
        if generator == "layer_engine" and p.name in ("rows", "cols") and how < 60:
            kwargs[p.name] = d.draw(st.integers(1, 3), label=p.name)      # bounded: no 4096-PE engine
        elif how < 60 and default is not None:
            kwargs[p.name] = d.draw(_near(default), label=p.name)
        elif how < 75:
            texts.append(f"{p.name}={d.draw(_TEXT, label=p.name)}")
        elif how < 90:
            kwargs[p.name] = d.draw(HOSTILE, label=p.name)
        elif p.name in base:
            kwargs[p.name] = base[p.name]
    if generator == "layer_engine" and isinstance(kwargs.get("rows"), int) and isinstance(kwargs.get("cols"), int):
        if kwargs["rows"] * kwargs["cols"] > 16:
            kwargs["rows"] = kwargs["cols"] = 2                                    # keep the build small
    names = {p.name for p in raw}
    parsed = call(fparams.parse_params, {"generator": generator, "items": texts}, names | {"--param"})
    if parsed is REFUSED:
        return
    kwargs.update(parsed)
    if generator == "layer_engine":
        r, c = kwargs.get("rows", 4), kwargs.get("cols", 4)
        if isinstance(r, int) and isinstance(c, int) and not isinstance(r, bool) and r * c > 16 and r <= 64 and c <= 64:
            kwargs["rows"] = kwargs["cols"] = 2
    built = call(registry.build, {"generator": generator, "params": kwargs}, names | {"config"})
    if built is not REFUSED:
        assert hasattr(built, "elaborate"), built
