"""Symmetric uniform INT-B quantization of float weights (docs/bbs.md, quantization).

The BBS baselines are post-training **per-channel INT8** models (docs/bbs.md): every output
channel (axis 0 of ``[K, C]`` / ``[K, C, H, W]``) gets its own scale. This module produces those integer
weights for the rest of the golden model.

Choices (the papers leave them open; docs/bbs.md lists them; tested here):

* **Symmetric, restricted range:** ``q in [-(2**(B-1)-1), 2**(B-1)-1]``; ``-2**(B-1)`` is never produced,
  so every quantized weight also has a sign-magnitude code (needed by Pragmatic, Bitlet, Bit-balance,
  EBSP and the BBS code's zero-point shifting, which clamps ``-128`` to ``-127``, docs/bbs.md).
* **Scale** ``= max|w| / (2**(B-1)-1)`` over the tensor (per-tensor) or over each slice along ``axis``
  (per-channel), so the largest magnitude maps exactly to ``+-(2**(B-1)-1)``.
* **Rounding:** round half to even (``numpy.rint``), as ``torch.round`` does, of ``w / scale``, then a
  clip to the symmetric range (only ever active for floating-point rounding of the max element).
* **All-zero channel (or tensor):** its scale is ``1.0`` (any positive value would do since every q is
  0; 1.0 keeps ``dequantize`` exact and never divides by zero).
* **Tiny channel (or tensor):** one whose scale ``max|w| / (2**(B-1)-1)`` would lie below the smallest
  normal float64 ``2**-1022`` (``max|w| < (2**(B-1)-1) * 2**-1022``, e.g. subnormal weights) is quantized
  as all-zero, scale ``1.0``, too: a zero or subnormal scale would divide by zero or lose the exact
  ``max -> 2**(B-1)-1`` mapping. Its weights are below ``2.8e-306`` in magnitude (B = 8), so the
  round-trip bound ``scale / 2`` holds all the more.
"""

from __future__ import annotations

import numpy as np

from .check import check_bool, check_finite, check_float_array, check_int, check_int_array
from .chunks import blocks, require_memory

__all__ = ["quantize", "dequantize", "qmax"]


def qmax(bits: int) -> int:
    """Largest quantized magnitude ``2**(bits-1) - 1`` for ``bits`` in 2..16."""
    bits = check_int("bits", bits, lo=2, hi=16)
    return (1 << (bits - 1)) - 1


def _axis(axis, ndim: int) -> int:
    axis = check_int("axis", axis, lo=-ndim, hi=ndim - 1)
    return axis % ndim


def _bshape(ndim: int, axis: int, n: int) -> tuple[int, ...]:
    shape = [1] * ndim
    shape[axis] = n
    return tuple(shape)


def quantize(w, *, bits: int = 8, per_channel: bool = True, axis: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Symmetric uniform quantization of float weights to ``bits``-bit integers.

    Parameters
    ----------
    w : array_like
        Float (or integer) weights, at least 1-D, finite, not empty. Bool, complex and object dtypes
        are refused.
    bits : int
        Integer width B, 2..16.
    per_channel : bool
        One scale per slice along ``axis`` (output channel) if True, else one scale for the tensor.
    axis : int
        The channel axis for ``per_channel`` (0 = output channel for ``[K, C]`` and ``[K, C, H, W]``).

    Returns
    -------
    q : ndarray of int64, same shape as ``w``
        ``clip(round_half_to_even(w / scale), -(2**(B-1)-1), 2**(B-1)-1)``.
    scales : ndarray of float64
        Shape ``(w.shape[axis],)`` per channel, shape ``()`` per tensor. ``max|w| / (2**(B-1)-1)``,
        or ``1.0`` for an all-zero channel/tensor and for one too small for a normal float64 scale
        (``max|w| < (2**(B-1)-1) * 2**-1022``, module docstring), whose q are then all 0. Every scale is
        finite and >= ``2**-1022``.

    Notes
    -----
    Symmetric, restricted range, round half to even, see the module docstring. The round-trip error
    ``|dequantize(q) - w|`` is at most ``scale / 2`` for every element.

    Memory: ``w`` is read in blocks of :data:`golden.chunks.CHUNK_ELEMENTS` elements (never converted or
    copied whole), so the peak above the input is ``q`` (8 bytes per weight) and the scales plus at most
    :data:`golden.chunks.WORK_BYTES` (64 MiB); when that is more than the available memory,
    :class:`golden.chunks.InsufficientMemoryError` is raised before anything is allocated.
    """
    bits = check_int("bits", bits, lo=2, hi=16)
    per_channel = check_bool("per_channel", per_channel)
    a = np.asarray(w)
    if a.dtype == np.bool_ or not (np.issubdtype(a.dtype, np.floating) or np.issubdtype(a.dtype, np.integer)):
        raise TypeError(f"w must be a numeric array, got dtype {a.dtype}")
    if np.issubdtype(a.dtype, np.floating):
        check_finite("w", a)
    if a.ndim < 1:
        raise ValueError(f"w must have at least 1 dimension, got shape {a.shape}")
    if a.size == 0:
        raise ValueError(f"w must not be empty, got shape {a.shape}")
    ax = _axis(axis, a.ndim)
    m = qmax(bits)
    n_scales = a.shape[ax] if per_channel else 1
    require_memory(f"quantize of w with shape {a.shape}", 8 * a.size + 8 * n_scales,
                   f"q, {a.size:,} int64, and the scales")
    # channel axis first (a view); every block is a run of channels, or a part of one channel
    b = np.moveaxis(a, ax, 0)
    q = np.empty(a.shape, dtype=np.int64)
    qb = np.moveaxis(q, ax, 0)
    amax = np.zeros(b.shape[0], dtype=np.float64)
    for idx, _, _ in blocks(b.shape):
        part = np.abs(b[idx].astype(np.float64, copy=False))
        np.maximum(amax[idx[0]], part.reshape(part.shape[0], -1).max(axis=1), out=amax[idx[0]])
    if not per_channel:
        amax = amax.max()
    # a scale below the normal range (zero or subnormal) counts as an all-zero channel: scale m / m = 1.0
    normal = amax >= m * np.finfo(np.float64).tiny            # m * 2**-1022 is exact
    scales = np.asarray(np.where(normal, amax, m) / m, dtype=np.float64)
    per_row = np.broadcast_to(scales, (b.shape[0],))
    for idx, _, _ in blocks(b.shape):
        s = per_row[idx[0]].reshape((-1,) + (1,) * (b.ndim - 1))
        qb[idx] = np.clip(np.rint(b[idx].astype(np.float64, copy=False) / s), -m, m)
    return q, scales


def dequantize(q, scales, axis: int = 0) -> np.ndarray:
    """``q * scale`` as float64: the inverse of :func:`quantize` up to the rounding error.

    ``scales`` is a 0-d array/scalar (per tensor) or a 1-D array of length ``q.shape[axis]`` (per
    channel); every scale must be finite and > 0.
    """
    a = check_int_array("q", q)
    if a.ndim < 1:
        raise ValueError(f"q must have at least 1 dimension, got shape {a.shape}")
    s = check_float_array("scales", scales, ndim=(0, 1))
    if s.size and not (s > 0).all():
        idx = tuple(int(i) for i in np.argwhere(~(s > 0))[0])
        raise ValueError(f"scales must be > 0, got {s[idx]} at index {idx}")
    ax = _axis(axis, a.ndim)
    if s.ndim == 1:
        if s.shape[0] != a.shape[ax]:
            raise ValueError(f"scales has length {s.shape[0]}, q has {a.shape[ax]} channels along axis {ax}")
        s = s.reshape(_bshape(a.ndim, ax, s.shape[0]))
    return a.astype(np.float64) * s
