"""Fuzz every public function of the golden model (tests/fuzz/golden_table.py has the table).

Every call either returns, and then the result matches the entry's plain-NumPy oracle where there is one,
or raises ``TypeError``/``ValueError`` naming one of its arguments; any other exception, a hang or a
warning fails (tests/fuzz/harness.py).
"""

import inspect

import pytest
from hypothesis import given
from hypothesis import strategies as st

from .golden_table import EXCLUDED, MODULES, TABLE
from .harness import FUZZ, OMIT, REFUSED, call


def _qualname(fn):
    return f"{fn.__module__}.{fn.__qualname__}"


def _names(fn, extra):
    try:
        params = list(inspect.signature(fn).parameters)
    except (TypeError, ValueError):
        params = []
    return set(params) | set(extra)


def test_every_public_function_has_a_fuzz_entry():
    """A new public name (a callable in a module's ``__all__``) needs a table entry or an exclusion."""
    covered = {_qualname(fn) for fn in TABLE}
    missing, stale = [], []
    public = set()
    for mod in MODULES:
        for name in mod.__all__:
            obj = getattr(mod, name)
            if not callable(obj):
                continue
            full = f"{mod.__name__}.{name}"
            public.add(full)
            if full not in covered and full not in EXCLUDED:
                missing.append(full)
    stale = sorted(n for n in list(EXCLUDED) + list(covered) if n not in public)
    assert not missing, f"public functions without a fuzz entry in tests/fuzz/golden_table.py: {missing}"
    assert not stale, f"fuzz entries or exclusions of names that are not public (any more): {stale}"
    assert not covered & set(EXCLUDED), f"both fuzzed and excluded: {sorted(covered & set(EXCLUDED))}"


@pytest.mark.parametrize("fn", sorted(TABLE, key=_qualname), ids=lambda fn: _qualname(fn).removeprefix("golden."))
@FUZZ
@given(d=st.data())
def test_fuzz(fn, d):
    entry = TABLE[fn]
    kwargs, oracle = entry.draw(d)
    kwargs = {k: v for k, v in kwargs.items() if v is not OMIT}
    result = call(fn, kwargs, _names(fn, entry.extra) | set(kwargs))
    if result is not REFUSED and oracle is not None:
        oracle(result)
