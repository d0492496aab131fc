"""Adder tree: the sum of N signed inputs, optionally pipelined every k levels.

A balanced binary tree of ``ceil(log2 N)`` levels; every node is exactly as wide as the sum of its leaves
can need (``signed_width`` of the leaves' extreme sums), so the output never overflows and no bit is
wasted. With ``register_every = k > 0`` a register follows every k-th level, and :attr:`latency` says how
many cycles the sum takes (the cycle models use it). Used by every PE (BitVert lanes, Stripes column
sums, Bitlet lane compressor, EBSP and Bit-balance lanes).

Golden functions: :func:`golden.primitives.adder_tree_sum`, :func:`adder_tree_width`,
:func:`adder_tree_latency`. Throughput: one sum per cycle.
"""

from amaranth.hdl import Module, Signal, signed
from hw.base import Component
from amaranth.lib.wiring import In, Out

from golden.bits import signed_width
from golden.check import check_int
from golden.primitives import adder_tree_latency, adder_tree_levels, adder_tree_width

__all__ = ["AdderTree"]

_MAX_INPUT_BITS = (1 << 16) - 2     # amaranth.hdl._nir.Net.from_cell: top-level input bits 2..65535


class AdderTree(Component):
    """Sum of ``n`` signed ``width``-bit inputs.

    Parameters
    ----------
    n : int
        Number of inputs, 1..4096.
    width : int
        Input width, 1..48 (two's complement).
    register_every : int
        0 for a combinational tree; k > 0 registers after every k-th level (latency ``levels // k``).

    ``n * width`` must be at most 65,534 (65,532 when the tree has a register level, for its clock and
    reset): the input bits Amaranth 0.5 can number in a top-level module (a 16-bit bit number, 0 and 1
    are the constants), so every accepted tree also elaborates as the top; a larger one is a
    ``ValueError`` (Amaranth itself stops with a bare ``AssertionError``).

    Attributes
    ----------
    x : In(signed(width)).array(n)
    sum : Out(signed(adder_tree_width(n, width)))
    """

    def __init__(self, n: int, width: int, register_every: int = 0):
        self.n = check_int("n", n, lo=1, hi=4096)
        self.width = check_int("width", width, lo=1, hi=48)
        self.register_every = check_int("register_every", register_every, lo=0, hi=64)
        clocked = self.latency > 0                      # a register level: clock and reset are inputs too
        if self.n * self.width + 2 * clocked > _MAX_INPUT_BITS:
            raise ValueError(f"n * width = {self.n} * {self.width} = {self.n * self.width} input bits"
                             f"{' plus the clock and reset of a pipelined tree' if clocked else ''} exceed the "
                             f"{_MAX_INPUT_BITS} input bits Amaranth can give a top-level module (16-bit bit "
                             f"numbers, 2 reserved for constants); lower n or width")
        self.out_width = adder_tree_width(self.n, self.width)
        super().__init__({
            "x": In(signed(self.width)).array(self.n),
            "sum": Out(signed(self.out_width)),
        })

    @property
    def levels(self) -> int:
        return adder_tree_levels(self.n)

    @property
    def latency(self) -> int:
        """Cycles from ``x`` to ``sum``."""
        return adder_tree_latency(self.n, self.register_every)

    def _node_width(self, leaves):
        lo, hi = -(1 << (self.width - 1)), (1 << (self.width - 1)) - 1
        return signed_width(leaves * lo, leaves * hi)

    def elaborate(self, platform):
        m = Module()
        nodes = [(self.x[i], 1) for i in range(self.n)]
        level = 0
        while len(nodes) > 1:
            level += 1
            registered = self.register_every and level % self.register_every == 0
            domain = m.d.sync if registered else m.d.comb
            merged = []
            for k in range(0, len(nodes) - 1, 2):
                (a, na), (b, nb) = nodes[k], nodes[k + 1]
                s = Signal(signed(self._node_width(na + nb)), name=f"l{level}_n{k // 2}")
                domain += s.eq(a + b)
                merged.append((s, na + nb))
            if len(nodes) % 2:
                a, na = nodes[-1]
                if registered:            # the odd node must be delayed like its neighbours
                    s = Signal(signed(self._node_width(na)), name=f"l{level}_n{len(nodes) // 2}")
                    domain += s.eq(a)
                    a = s
                merged.append((a, na))
            nodes = merged
        m.d.comb += self.sum.eq(nodes[0][0])
        return m
