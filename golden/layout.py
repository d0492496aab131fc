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

__all__ = ["Grouping", "group_weights", "ungroup_weights", "effective_group"]


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


def group_weights(w, group: int) -> tuple[np.ndarray, Grouping]:
    """Cut ``w`` (``[K, C]`` or ``[K, C, H, W]``, any dtype) into a ``[n_groups, G]`` matrix.

    Rows are ordered output channel first, so rows ``k*gpc .. (k+1)*gpc - 1`` belong to output channel k
    (``gpc = Grouping.groups_per_channel``). Returns the matrix (a copy) and the :class:`Grouping`.
    """
    a = as_array("w", w)
    if a.ndim == 2:
        kind = "fc"
        k, c = a.shape
        flat = a
    elif a.ndim == 4:
        kind = "conv"
        k, c, h, ww = a.shape
        flat = a.transpose(0, 2, 3, 1)
    else:
        raise ValueError(f"weights must be [K, C] (fully connected) or [K, C, H, W] (convolution), "
                         f"got shape {a.shape}")
    if a.size == 0:
        raise ValueError(f"weights must not be empty, got shape {a.shape}")
    g = effective_group(c, group)
    return np.ascontiguousarray(flat).reshape(-1, g).copy(), Grouping(tuple(a.shape), g, kind)


def ungroup_weights(groups, grouping: Grouping) -> np.ndarray:
    """Inverse of :func:`group_weights`: back to the original layout and shape."""
    if not isinstance(grouping, Grouping):
        raise TypeError(f"grouping must be a Grouping (from group_weights), got {type(grouping).__name__}")
    a = as_array("groups", groups)
    if a.size != int(np.prod(grouping.shape)):
        raise ValueError(f"groups has {a.size} elements, the grouping expects {int(np.prod(grouping.shape))}")
    if grouping.kind == "fc":
        return a.reshape(grouping.shape)
    k, c, h, w = grouping.shape
    return a.reshape(k, h, w, c).transpose(0, 3, 1, 2).copy()
