"""The fuzz harness: hostile values, the call wrapper and the check that an error names its argument.

:func:`call` runs a function under a watchdog (a hang fails the example after :data:`TIMEOUT` seconds),
with NumPy floating-point errors and every warning raised as exceptions. A ``TypeError`` or ``ValueError``
whose message names one of the given arguments is a refusal (:data:`REFUSED`); one that names none of
them fails, and so does every other exception (it propagates).
"""

from __future__ import annotations

import contextlib
import copy
import re
import signal
import threading
import warnings

import numpy as np
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

#: seconds one call may take before it counts as a hang
TIMEOUT = 20.0

#: what :func:`call` returns for a refused call
REFUSED = object()

#: a keyword left out of the call (its default is used)
OMIT = object()


def _profile():
    """The profile of the fuzz tests: ``fuzz`` when it is the loaded one (``--hypothesis-profile=fuzz``),
    else the bounded ``fuzz-ci``."""
    name = "fuzz" if settings.get_current_profile_name() == "fuzz" else "fuzz-ci"
    return settings.get_profile(name)


FUZZ = _profile()


class Hang(Exception):
    """A call did not return within :data:`TIMEOUT` seconds."""


@contextlib.contextmanager
def watchdog(seconds: float):
    """Raise :class:`Hang` in the main thread after ``seconds`` (no watchdog in other threads)."""
    if threading.current_thread() is not threading.main_thread() or not hasattr(signal, "setitimer"):
        yield
        return

    def on_alarm(signum, frame):
        raise Hang(f"no answer within {seconds} s")

    old = signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


_STRICT_AFTER = (r"\[| must| has| holds| shape| of shape|=| and | do| does| need| is | are |,|\)|:| differ"
                 r"| exceed| \(|'s| to | of length| with| lanes|$")


def mentions(message: str, names) -> bool:
    """Whether ``message`` names one of ``names``: as a whole word; a name of one or two characters
    (``a``, ``x``, ``k``) only where it is used as a name (``x must``, ``x[0]``, ``k=3``, ``a has``)."""
    for n in names:
        if len(n) > 2:
            pat = rf"(?<![A-Za-z0-9_]){re.escape(n)}(?![A-Za-z0-9_])"
        else:
            pat = rf"(?<![A-Za-z0-9_'-]){re.escape(n)}(?={_STRICT_AFTER})"
        if re.search(pat, message):
            return True
    return False


def call(fn, kwargs: dict, names, args=()):
    """``fn(*args, **kwargs)``, or :data:`REFUSED` for a ``TypeError``/``ValueError`` naming one of ``names``."""
    with watchdog(TIMEOUT), warnings.catch_warnings(), np.errstate(over="raise", divide="raise", invalid="raise"):
        warnings.simplefilter("error")
        try:
            return fn(*args, **kwargs)
        except (TypeError, ValueError) as e:
            msg = str(e)
            if not mentions(msg, names):
                raise AssertionError(f"{getattr(fn, '__qualname__', fn)} raised {type(e).__name__} that names "
                                     f"none of its arguments {sorted(names)}: {msg!r}") from e
            return REFUSED


# -- hostile values ---------------------------------------------------------------------------------

_WEIRD = [
    None, True, False, "abc", "", "8", 1.5, 3.0, float("nan"), float("inf"), -float("inf"), -1, 0, -(2 ** 70),
    2 ** 70, 2 ** 63, 10 ** 12, 1j, b"\x01", object(), [], (), {}, {"a": 1}, [[1, 2], [3]], np.int64(-1),
    np.float64(2.0), np.bool_(True), np.array([]), np.zeros((0, 3), np.int64), np.array(5), np.array([1.5, -2.5]),
    np.array([np.nan, 1.0]), np.array([np.inf]), np.array(["a", "b"]), np.array([True, False]),
    np.array([1, 2], dtype=object), np.array([2 ** 64 - 1], dtype=np.uint64), np.array([1 + 2j]),
    np.full((2, 2), 2 ** 62, np.int64), np.full((70, 2), 1, np.int64),
]


def _fresh(i):
    v = _WEIRD[i]
    return v if type(v) is object else copy.deepcopy(v)


#: a value of the wrong type, dtype, shape or range for (nearly) any argument
HOSTILE = st.integers(0, len(_WEIRD) - 1).map(_fresh)


def _poke(a, v):
    a = np.array(a, dtype=object if abs(int(v)) >= 2 ** 63 else np.int64, copy=True)
    if a.size:
        a.reshape(-1)[0] = v
    return a


def _mutations(a):
    with np.errstate(all="ignore"), warnings.catch_warnings():      # casts of inf and huge values
        warnings.simplefilter("ignore")
        return _mutations_of(np.asarray(a))


def _mutations_of(a):
    out = [a.astype(np.float64), a.astype(bool), a.astype(object), a.astype(str), a.astype(np.float32), a[None],
           a.reshape(-1), a[..., :0] if a.ndim else a.reshape(1)[:0], a.reshape(-1)[:1].reshape(()) if a.size else a,
           a.tolist(), a.T]
    if a.dtype.kind in "iu" and a.size:
        out += [_poke(a, 2 ** 62), _poke(a, -(2 ** 62)), _poke(a, int(a.max()) + 1), _poke(a, int(a.min()) - 1),
                _poke(a, 2 ** 64), a.astype(np.uint64), np.concatenate([a, a], axis=-1) if a.ndim else a]
    if a.dtype.kind == "f" and a.size:
        b = a.copy()
        b.reshape(-1)[0] = np.nan
        c = a.copy()
        c.reshape(-1)[-1] = np.inf
        out += [b, c, a * 1e300, a.astype(np.int64)]
    return out


def mutated(valid):
    """Arrays derived from ``valid`` ones, wrong in one way (dtype, shape, one value)."""
    return st.tuples(valid, st.integers(0, 30)).map(lambda t: (lambda m: m[t[1] % len(m)])(_mutations(t[0])))


def hostile_for(valid):
    """Hostile values for an argument whose valid values ``valid`` draws: a mutation of one, or :data:`HOSTILE`."""
    return st.one_of(mutated(valid), HOSTILE)


#: percentage of arguments drawn hostile
HOSTILE_PERCENT = 15


def vh(d, label: str, valid, hostile=None, percent: int = HOSTILE_PERCENT):
    """Draw a valid value of ``valid`` or (``percent`` % of the time) a hostile one."""
    if d.draw(st.integers(0, 99), label=f"{label}: hostile if < {percent}") < percent:
        return d.draw(HOSTILE if hostile is None else hostile, label=label)
    return d.draw(valid, label=label)


def vha(d, label: str, valid, percent: int = HOSTILE_PERCENT):
    """:func:`vh` for an array argument: hostile values include mutations of valid arrays."""
    return vh(d, label, valid, hostile_for(valid), percent)


def shapes(min_dims=1, max_dims=3, min_side=1, max_side=5):
    return hnp.array_shapes(min_dims=min_dims, max_dims=max_dims, min_side=min_side, max_side=max_side)


def ints(lo, hi, shape=None, **kw):
    """int64 arrays with values in ``[lo, hi]``."""
    return hnp.arrays(np.int64, shapes(**kw) if shape is None else shape, elements=st.integers(lo, hi))


def floats(shape=None, lo=-1e3, hi=1e3, **kw):
    return hnp.arrays(np.float64, shapes(**kw) if shape is None else shape,
                      elements=st.floats(lo, hi, allow_nan=False, allow_infinity=False))


def optional(d, label, valid, percent=20, hostile=None):
    """:data:`OMIT` (the parameter left at its default) ``percent`` % of the time, else :func:`vh`."""
    if d.draw(st.integers(0, 99), label=f"{label}: default if < {percent}") < percent:
        return OMIT
    return vh(d, label, valid, hostile)
