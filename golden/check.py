"""Argument checking shared by the golden model and the generators.

Every public function and every generator validates its arguments with these helpers, so that a bad
parameter or a bad tensor is refused with one consistent message that names the argument, the value
it got and what is allowed. Nothing is silently truncated, clipped or wrapped.
"""

from __future__ import annotations

import numbers
import operator

import numpy as np

__all__ = ["as_array", "check_int", "check_choice", "check_bool", "check_int_array", "check_float_array",
           "check_sign_magnitude_array"]


def as_array(name: str, value) -> np.ndarray:
    """``np.asarray(value)``, or ``ValueError`` naming ``name`` when NumPy cannot make an array of it (a ragged
    nested list)."""
    try:
        return np.asarray(value)
    except (TypeError, ValueError, OverflowError) as e:
        raise ValueError(f"{name} must be an array (or a nested list of one shape), got {type(value).__name__}: "
                         f"{e}") from None


def check_int(name: str, value, *, lo: int | None = None, hi: int | None = None,
              extra: str = "") -> int:
    """Return ``value`` as a Python int, or raise.

    ``TypeError`` if it is not an integer (bools and floats are refused, even 3.0), ``ValueError`` if it
    lies outside ``[lo, hi]`` (either bound may be ``None``). ``extra`` is appended to the allowed-range
    text, e.g. ``"and even"``.
    """
    if isinstance(value, bool) or not isinstance(value, (numbers.Integral, np.integer)):
        raise TypeError(f"{name} must be an integer{_range_text(lo, hi, extra)}, "
                        f"got {value!r} of type {type(value).__name__}")
    value = operator.index(value)
    if (lo is not None and value < lo) or (hi is not None and value > hi):
        raise ValueError(f"{name} must be an integer{_range_text(lo, hi, extra)}, got {value}")
    return value


def check_bool(name: str, value) -> bool:
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be a bool (True or False), got {value!r}")
    return bool(value)


def check_choice(name: str, value, choices) -> object:
    """Raise ``ValueError`` unless ``value`` is one of ``choices``."""
    choices = tuple(choices)
    try:
        known = value in choices
    except (TypeError, ValueError):           # an array: its comparison has no single truth value
        known = False
    if not known:
        raise ValueError(f"{name} must be one of {', '.join(repr(c) for c in choices)}, got {value!r}")
    return value


def _range_text(lo, hi, extra=""):
    if lo is not None and hi is not None:
        text = f" in [{lo}, {hi}]"
    elif lo is not None:
        text = f" >= {lo}"
    elif hi is not None:
        text = f" <= {hi}"
    else:
        text = ""
    return text + (f" {extra}" if extra else "")


def check_int_array(name: str, arr, *, lo: int | None = None, hi: int | None = None,
                    ndim: int | tuple[int, ...] | None = None) -> np.ndarray:
    """Return ``arr`` as an ``int64`` array, or raise.

    Integer dtypes only: float arrays (even with integral values), bools and objects are refused with
    ``TypeError`` naming the dtype, because a float reaching an integer datapath is almost always a
    missing quantization step. Values outside ``[lo, hi]`` raise ``ValueError`` naming the first
    offending value and its index. The range test takes no memory beyond a block (:mod:`golden.chunks`);
    an input of another integer dtype is converted (copied) to int64.
    """
    return check_int_values(name, arr, lo=lo, hi=hi, ndim=ndim).astype(np.int64, copy=False)


def check_int_values(name: str, arr, *, lo: int | None = None, hi: int | None = None,
                     ndim: int | tuple[int, ...] | None = None) -> np.ndarray:
    """:func:`check_int_array` without the int64 conversion: ``arr`` as an integer array of its own dtype.

    For large tensors that are then processed block by block (:mod:`golden.chunks`): nothing of the
    input's size is allocated (a min/max test, then a blockwise search only when a value is out of range).
    """
    a = as_array(name, arr)
    if a.dtype == np.bool_ or not np.issubdtype(a.dtype, np.integer):
        raise TypeError(f"{name} must be an array of integers, got dtype {a.dtype}"
                        + (" (quantize it first)" if np.issubdtype(a.dtype, np.floating) else ""))
    if a.dtype == np.uint64:
        if a.size and a.max() > np.iinfo(np.int64).max:
            raise ValueError(f"{name} has values beyond the int64 range")
        a = a.astype(np.int64)                       # a rare dtype: compared as int64, as before
    _check_ndim(name, a, ndim)
    if a.size and ((lo is not None and int(a.min()) < lo) or (hi is not None and int(a.max()) > hi)):
        idx = first_bad(a, lambda b: (b < lo if lo is not None else False) | (b > hi if hi is not None else False))
        raise ValueError(f"{name} must hold integers{_range_text(lo, hi)}, "
                         f"got {int(a[idx])} at index {idx}")
    return a


def first_bad(a: np.ndarray, test) -> tuple | None:
    """Row-major first index of ``a`` where ``test(block)`` (a bool array of the block's shape) is True,
    scanning ``a`` in blocks of :data:`golden.chunks.CHUNK_ELEMENTS` elements; ``None`` if there is none."""
    from .chunks import blocks
    for idx, _, _ in blocks(a.shape):
        block = a[idx]
        hit = first_index(np.broadcast_to(np.asarray(test(block), dtype=bool), np.shape(block)))
        if hit is not None:
            return tuple(s.start + i for s, i in zip(idx, hit))
    return None


def check_sign_magnitude_array(name: str, q, bits: int) -> np.ndarray:
    """Integers in the symmetric ``bits``-bit sign-magnitude range ``[-(2**(bits-1)-1), 2**(bits-1)-1]``.

    ``-2**(bits-1)`` gets its own message (it has no sign-magnitude code; clip first). A min/max test
    keeps the common in-range case fast on large tensors.
    """
    a = check_int_array(name, q)
    top = 1 << (bits - 1)
    if a.size and (a.min() < -(top - 1) or a.max() > top - 1):
        neg = a == -top
        if neg.any():
            idx = tuple(int(i) for i in np.argwhere(neg)[0])
            raise ValueError(f"{name} holds {-top} at index {idx}, which has no {bits}-bit sign-magnitude code; "
                             f"weights must lie in the symmetric range [{-(top - 1)}, {top - 1}] (clip first)")
        check_int_array(name, a, lo=-(top - 1), hi=top - 1)
    return a


def check_float_array(name: str, arr, *, ndim: int | tuple[int, ...] | None = None,
                      allow_nonfinite: bool = False) -> np.ndarray:
    """Return ``arr`` as a ``float64`` array; refuse NaN/inf (unless allowed) and non-numeric dtypes."""
    a = as_array(name, arr)
    if a.dtype == np.bool_ or not (np.issubdtype(a.dtype, np.floating) or np.issubdtype(a.dtype, np.integer)):
        raise TypeError(f"{name} must be a numeric array, got dtype {a.dtype}")
    a = a.astype(np.float64, copy=False)
    _check_ndim(name, a, ndim)
    if not allow_nonfinite:
        check_finite(name, a)
    return a


def check_finite(name: str, a: np.ndarray) -> None:
    """``ValueError`` naming the first NaN or infinity of the float array ``a`` (checked block by block)."""
    if a.size and not (np.isfinite(a.min()) and np.isfinite(a.max())):
        idx = first_bad(a, lambda b: ~np.isfinite(b))
        if idx is not None:
            raise ValueError(f"{name} must be finite, got {a[idx]} at index {idx}")


def _check_ndim(name, a, ndim):
    if ndim is None:
        return
    allowed = (ndim,) if isinstance(ndim, int) else tuple(ndim)
    if a.ndim not in allowed:
        raise ValueError(f"{name} must have {' or '.join(map(str, allowed))} dimensions, "
                         f"got shape {a.shape}")


def first_index(mask) -> tuple | None:
    """Index (a tuple of ints) of the first ``True`` of a boolean array, or ``None`` if there is none."""
    hits = np.argwhere(mask)
    return tuple(int(i) for i in hits[0]) if len(hits) else None


def check_lane_shapes(w_shape: tuple, x_shape: tuple) -> tuple:
    """The broadcast shape of weights and activations of shapes ``w_shape`` and ``x_shape`` whose last axis
    is the lane axis; ``ValueError`` if either has no lane axis, the lanes differ or they do not broadcast."""
    w_shape, x_shape = tuple(w_shape), tuple(x_shape)
    if len(w_shape) < 1 or len(x_shape) < 1:
        raise ValueError(f"weights and x need a lane (last) axis, got shapes {w_shape} and {x_shape}")
    if w_shape[-1] != x_shape[-1]:
        raise ValueError(f"weights have {w_shape[-1]} lanes but x has {x_shape[-1]} (last axis)")
    try:
        return np.broadcast_shapes(w_shape, x_shape)
    except ValueError:
        raise ValueError(f"weights of shape {w_shape} and x of shape {x_shape} do not broadcast "
                         f"(lanes are the last axis)") from None


def check_code_format(code, **fields):
    """``ValueError`` if a format field given (not ``None``) differs from the code's: ``bits=9`` for an
    8-bit code is refused as ``"bits=9 does not match the code's bits=8"``."""
    for name, value in fields.items():
        if value is not None and check_int(name, value) != getattr(code, name):
            raise ValueError(f"{name}={value} does not match the code's {name}={getattr(code, name)}")


def check_no_negative_zero(sign, is_zero):
    """``ValueError`` naming the first index where a code has ``sign == 1`` on a zero magnitude."""
    idx = first_index((np.asarray(sign) == 1) & is_zero)
    if idx is not None:
        raise ValueError(f"code is not canonical at index {idx}: zero must have sign 0 (no negative zero)")


__all__ += ["first_index", "check_lane_shapes", "check_code_format", "check_no_negative_zero", "check_int_values",
            "check_finite", "first_bad"]
