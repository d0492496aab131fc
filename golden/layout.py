"""Weight layout and grouping, as the BBS authors use it (docs/bbs.md, grouping).

* Fully connected weights are ``[K, C]``, convolution weights ``[K, C, H, W]``.
* A group is ``G`` consecutive **input channels** feeding one output: convolution weights are reordered
  to ``[K, H, W, C]`` first, then every row of C is cut into chunks of G.
* When ``C < G`` the group shrinks to ``G = C`` (as in the authors' code); when ``C`` is not a multiple of
  ``G`` it is an error, never a silent padding.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .check import as_array, check_int

__all__ = ["Grouping", "group_weights", "ungroup_weights", "effective_group", "grouped_view"]


def effective_group(channels: int, group: int) -> int:
    """The group size actually used for a layer with ``channels`` input channels (``min(C, G)``)."""
    channels = check_int("channels", channels, lo=1)
    group = check_int("group", group, lo=1)
    g = min(channels, group)
    if channels % g:
        raise ValueError(f"input channels C={channels} must be a multiple of group={group} "
                         f"(or smaller than it); pad or pick another group")
    return g


@dataclass(frozen=True)
class Grouping:
    """How a weight tensor was cut into groups, enough to undo it."""
    shape: tuple[int, ...]   # original shape, [K, C] or [K, C, H, W]
    group: int               # effective G
    kind: str                # "fc" or "conv"

    @property
    def groups_per_channel(self) -> int:
        """Groups belonging to one output channel (row of the ``[n_groups, G]`` matrix)."""
        k = self.shape[0]
        n = int(np.prod(self.shape)) // self.group
        return n // k


def grouped_view(a: np.ndarray, group: int) -> np.ndarray:
    """The ``[K, P, C/G, G]`` view of ``a`` (``[K, C]``: ``P = 1``; ``[K, C, H, W]``: ``P = H*W``) whose row-major
    ``[K*P*(C/G), G]`` flattening is the group matrix of :func:`group_weights`; ``group`` is the effective ``G``.

    No copy for a contiguous ``a`` (writing into the view writes ``a``; a non-contiguous ``a`` that the
    reshape cannot view is copied once): the blocks of :func:`golden.chunks.blocks`
    over its first three axes (``cost=G``) are contiguous row ranges of the group matrix.
    """
    k, c = a.shape[0], a.shape[1]
    p = int(np.prod(a.shape[2:], dtype=np.int64))
    return a.reshape(k, c // group, group, p).transpose(0, 3, 1, 2)


def _layout(w, group):
    a = as_array("w", w)
    if a.ndim == 2:
        kind = "fc"
    elif a.ndim == 4:
        kind = "conv"
    else:
        raise ValueError(f"weights must be [K, C] (fully connected) or [K, C, H, W] (convolution), "
                         f"got shape {a.shape}")
    if a.size == 0:
        raise ValueError(f"weights must not be empty, got shape {a.shape}")
    return a, Grouping(tuple(a.shape), effective_group(a.shape[1], group), kind)


def group_weights(w, group: int, dtype=None) -> tuple[np.ndarray, Grouping]:
    """Cut ``w`` (``[K, C]`` or ``[K, C, H, W]``, any dtype) into a ``[n_groups, G]`` matrix.

    Rows are ordered output channel first, so rows ``k*gpc .. (k+1)*gpc - 1`` belong to output channel k
    (``gpc = Grouping.groups_per_channel``). Returns the matrix (a copy, of ``dtype`` if given, else
    ``w``'s) and the :class:`Grouping`. The copy is made block by block (:mod:`golden.chunks`), so nothing
    but the matrix itself is allocated.
    """
    a, grouping = _layout(w, group)
    g = grouping.group
    out = np.empty((a.size // g, g), dtype=a.dtype if dtype is None else dtype)
    view = grouped_view(a, g)
    from .chunks import blocks
    for idx, r0, r1 in blocks(view.shape[:3], cost=g):
        block = view[idx]
        np.copyto(out[r0:r1].reshape(block.shape), block, casting="unsafe")
    return out, grouping


def ungroup_weights(groups, grouping: Grouping) -> np.ndarray:
    """Inverse of :func:`group_weights`: back to the original layout and shape."""
    if not isinstance(grouping, Grouping):
        raise TypeError(f"grouping must be a Grouping (from group_weights), got {type(grouping).__name__}")
    a = as_array("groups", groups)
    if a.size != int(np.prod(grouping.shape)):
        raise ValueError(f"groups has {a.size} elements, the grouping expects {int(np.prod(grouping.shape))}")
    if grouping.kind == "fc":
        return a.reshape(grouping.shape)
    out = np.empty(grouping.shape, dtype=a.dtype)
    g = grouping.group
    rows = a.reshape(-1, g)
    view = grouped_view(out, g)
    from .chunks import blocks
    for idx, r0, r1 in blocks(view.shape[:3], cost=g):
        view[idx] = rows[r0:r1].reshape(view[idx].shape)
    return out
