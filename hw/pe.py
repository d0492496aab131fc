"""The processing-element contract: the stream ports every PE has, the PE base class, and the step sequencer.

Every PE (Stripes, Pragmatic, the bit-parallel MAC, BitVert, EBSP, Bit-balance, Bitlet) is a :class:`PE`
built from one golden configuration object (``StripesPE(DenseConfig(...))``, ``BitVertPE(BBSConfig(...))``,
...), shared with the golden model, and has the same ports (docs/contract.md has the timing diagram):

``i`` : ``In(stream.Signature(StructLayout({"weights": <PE-specific>, "acts": ArrayLayout(signed(a), lanes)})))``
    One transaction = one weight group (encoded in the PE's own format) and its activation vector
    (Bitlet: one beat of a pass). A valid offer must be held, unchanged, until it is taken.
``o`` : ``Out(stream.Signature(<result shape>))``
    One transaction per group, in order: the exact dot product of that group. ``o.payload`` holds its
    value while ``o.valid`` and not ``o.ready`` (back-pressure); the PE then stalls and stops accepting
    input, so nothing is lost or duplicated.
``clear`` : ``In(1)``
    Synchronous flush: the group in flight and an unconsumed result are dropped, the cycle counter is
    zeroed. The reset ``rst`` does the same. ``i.ready`` is low while ``clear`` or ``rst`` is high.
``cycles`` : ``Out(32)``
    Compute steps performed since the last ``clear``/reset (stalls do not count). The per-group delta
    is what the method's cycle model predicts.

Payloads: :meth:`PE.pack` turns weights and activations (integers as the golden model holds them) into
the input words, :meth:`PE.unpack` an output word into a number, :meth:`PE.payload_fields` lists every
field of the input word (docs/payloads.md is generated from it, and so is the comment block at the top
of the generated Verilog).

Timing of a bit-serial PE built on :class:`SerialSequencer`: the group is registered in the cycle it is
accepted; its ``n`` steps execute in the following ``n`` cycles; the result is written to the output
register in the last step, and the next group is accepted in that same cycle. So in steady state (input
always valid, output always ready) a group takes exactly ``n`` cycles, and its output appears
``n + PE.latency`` cycles after its acceptance (``latency = 1``).
"""

from __future__ import annotations

import dataclasses
import importlib
from typing import NamedTuple

import numpy as np
from amaranth.hdl import Module, ResetSignal, Shape, Signal, signed
from amaranth.lib import data, stream
from amaranth.lib.wiring import In, Out

from golden.bits import twos_range, unsigned_width
from golden.check import check_int, check_int_array
from hw.base import Component

__all__ = ["PE", "check_config", "PayloadField", "payload_fields", "input_layout", "SerialSequencer",
           "CYCLE_COUNTER_WIDTH"]

CYCLE_COUNTER_WIDTH = 32


def input_layout(weights_shape, *, lanes: int, act_bits: int) -> data.StructLayout:
    """The payload layout of a PE's input stream."""
    return data.StructLayout({"weights": weights_shape,
                              "acts": data.ArrayLayout(signed(act_bits), lanes)})


class PayloadField(NamedTuple):
    """One field of a payload word: ``name`` (``acts[i]``: element ``i`` of an array), its ``width``, the
    bit of its element 0 (``offset``), and for array fields the ``strides`` and ``counts`` of the indices
    ``i, j, ...`` (element ``(i, j)`` starts at ``offset + i * strides[0] + j * strides[1]``)."""

    name: str
    width: int
    offset: int
    strides: tuple = ()
    counts: tuple = ()
    meaning: str = ""

    @property
    def bits(self) -> str:
        """``"[hi:lo]"``, with the index terms for array fields: ``"[8i+7:8i]"``."""
        terms = "".join(f"+{s}{v}" for s, v in zip(self.strides, "ijk"))
        lo, hi = self.offset, self.offset + self.width - 1
        if not terms:
            return f"[{hi}:{lo}]" if hi != lo else f"[{lo}]"
        fmt = lambda b: (f"{b}{terms}" if b else terms[1:])
        return f"[{fmt(hi)}:{fmt(lo)}]" if hi != lo else f"[{fmt(lo)}]"

    @property
    def index_text(self) -> str:
        """``"i < 16, j < 8"`` for array fields, else ``""``."""
        return ", ".join(f"{v} < {n}" for v, n in zip("ijk", self.counts))


def payload_fields(layout, meanings=None, *, name="", offset=0, strides=(), counts=()) -> list[PayloadField]:
    """The leaf fields of a payload ``layout`` (struct fields in order, an array as one indexed field).

    ``meanings`` maps a field name (``"weights.columns[i]"``) to the sentence that says what it holds.
    """
    meanings = meanings or {}
    if isinstance(layout, data.StructLayout):
        out = []
        for fname, field in layout:
            out += payload_fields(field.shape, meanings, name=f"{name}.{fname}" if name else fname,
                                  offset=offset + field.offset, strides=strides, counts=counts)
        return out
    if isinstance(layout, data.ArrayLayout):
        var = "ijk"[len(strides)]
        elem = data.Layout.cast(layout.elem_shape).size if isinstance(layout.elem_shape, data.Layout) \
            else Shape.cast(layout.elem_shape).width
        return payload_fields(layout.elem_shape, meanings, name=f"{name}[{var}]", offset=offset,
                              strides=strides + (elem,), counts=counts + (layout.length,))
    shape = Shape.cast(layout)
    if shape.width == 0:                         # a field the configuration leaves without bits
        return []
    kind = "signed" if shape.signed else "unsigned"
    return [PayloadField(name, shape.width, offset, strides, counts,
                         meanings.get(name, "") or f"{kind} {shape.width}-bit")]


def check_config(owner, config):
    """``config`` if it is an ``owner.config_class`` inside ``owner.hw_limits`` (``{field: (lo, hi)}``, the
    limits the hardware adds to the golden model's), else ``TypeError``/``ValueError`` naming the field.
    Used by :meth:`PE.check_config` and by blocks built from the same configuration (BitVert's scheduler)."""
    cls = owner.config_class
    if not isinstance(config, cls):
        raise TypeError(f"config must be a {cls.__module__}.{cls.__name__}, "
                        f"got {config!r} of type {type(config).__name__}")
    for name, (lo, hi) in owner.hw_limits.items():
        check_int(name, getattr(config, name), lo=lo, hi=hi, extra=f"(the limit of {owner.__name__})")
    return config


class PE(Component):
    """The base of every processing element: built from one golden configuration object.

    A subclass sets the class attributes

    ``config_class``
        The golden configuration class it is built from (``golden.baselines.DenseConfig``, ...).
    ``hw_limits``
        ``{field: (lo, hi)}``: the limits the hardware adds to the golden model's, checked once here.
    ``latency``
        Cycles from a group's last compute step to its ``o.valid`` when nothing waits: a group of ``n``
        steps accepted (its last transaction) in cycle ``t`` is valid in cycle ``t + n + latency``.
    ``field_meanings``
        ``{field name: meaning}`` for :meth:`payload_fields` (docs/payloads.md, the Verilog header).
    ``options``
        Names of the hardware-only keyword options of the constructor (stored as attributes), so that
        :meth:`spec` / :meth:`from_spec` rebuild the same PE (a cocotb bench does, to unpack results).

    and defines :meth:`weights_layout` and :attr:`max_steps`, and :meth:`encode_weights` (one group's
    weights as a payload value) or, for PEs whose groups take several transactions, :meth:`payloads`.
    Options that only the hardware has (``multiplier``, ``weight_format``) are keyword arguments of the
    subclass's constructor, stored as attributes of the same name.
    """

    config_class: type = None
    hw_limits: dict = {}
    latency: int = 1
    field_meanings: dict = {}
    options: tuple = ()

    def __init__(self, config, extra_members=None):
        self.config = self.check_config(config)
        self.input_layout = input_layout(self.weights_layout(self.config), lanes=self.input_lanes,
                                         act_bits=self.input_act_bits)
        members = {"i": In(stream.Signature(self.input_layout)),
                   "o": Out(stream.Signature(self.result_shape)),
                   "clear": In(1), "cycles": Out(CYCLE_COUNTER_WIDTH)}
        members.update(extra_members or {})
        super().__init__(members)

    @classmethod
    def check_config(cls, config):
        """``config`` if it is a ``config_class`` inside the hardware limits, else ``TypeError``/``ValueError``."""
        return check_config(cls, config)

    # -- shapes (from the configuration) -----------------------------------------------------------

    @classmethod
    def weights_layout(cls, config):
        """Layout of the ``weights`` field of the input payload."""
        raise NotImplementedError

    @property
    def input_lanes(self) -> int:
        """Activations per input transaction."""
        return self.config.pe_length

    @property
    def beats_per_pass(self) -> int:
        """Input transactions per pass (one group; Bitlet: ``n_total / n_input`` beats)."""
        return 1

    @property
    def input_act_bits(self) -> int:
        """Width of one activation field."""
        return self.config.act_bits

    @property
    def result_shape(self):
        """Shape of ``o.payload``: the exact range of one group's dot product."""
        return signed(self.config.acc_width)

    @property
    def max_steps(self) -> int:
        """The most compute steps one group can take."""
        raise NotImplementedError

    # -- the payload API ---------------------------------------------------------------------------

    def encode_weights(self, weights) -> object:
        """One group's weights (a row of integers) as the value of the ``weights`` payload field."""
        raise NotImplementedError

    def payloads(self, weights, acts) -> list[dict]:
        """Input transactions, as payload values (dicts, also what ``ctx.set(pe.i.payload, ...)`` takes).

        Default: ``weights`` and ``acts`` are ``[groups, lanes]`` integer arrays, one transaction per
        group; a group's weights go through :meth:`encode_weights`.
        """
        lanes = self.input_lanes
        lo, hi = twos_range(self.input_act_bits)
        a = check_int_array("acts", acts, lo=lo, hi=hi, ndim=2)
        if a.shape[1] != lanes:
            raise ValueError(f"acts must have {lanes} lanes (last axis), got shape {a.shape}")
        w = np.asarray(weights)
        if w.ndim < 2 or len(w) != len(a):
            raise ValueError(f"weights must hold one group per row of acts ({len(a)} groups), "
                             f"got shape {w.shape}")
        return [{"weights": self.encode_weights(w[g]), "acts": [int(v) for v in a[g]]} for g in range(len(a))]

    def pack(self, weights, acts, **options) -> list[int]:
        """The input words (Python ints, ``len(self.i.payload)`` bits) of ``weights`` and ``acts``, in
        stream order; ``options`` go to :meth:`payloads`."""
        return [int(self.input_layout.const(p).as_value().value) for p in self.payloads(weights, acts, **options)]

    def unpack(self, word: int):
        """The number an output word stands for (default: the two's-complement result)."""
        width = Shape.cast(self.result_shape).width
        word = check_int("word", word, lo=0, hi=(1 << width) - 1)
        return word - (1 << width) if word >> (width - 1) else word

    def payload_fields(self) -> list[PayloadField]:
        """Every field of the input word (see :func:`payload_fields`)."""
        return payload_fields(self.input_layout, self.field_meanings)

    def spec(self) -> dict:
        """A JSON-able description of this PE: its class, configuration fields and options."""
        return {"class": f"{type(self).__module__}.{type(self).__qualname__}",
                "config": dataclasses.asdict(self.config),
                "options": {name: getattr(self, name) for name in self.options}}

    @staticmethod
    def from_spec(spec: dict) -> "PE":
        """The PE :meth:`spec` describes."""
        module, _, name = spec["class"].rpartition(".")
        cls = getattr(importlib.import_module(module), name)
        return cls(cls.config_class(**spec["config"]), **spec.get("options", {}))

    def payload_text(self) -> list[str]:
        """The input word's fields and the output's shape as text lines (the generated Verilog's header)."""
        fields = self.payload_fields()
        out = [f"{type(self).__name__}({self.config!r}"
               + "".join(f", {k}={getattr(self, k)!r}" for k in self.options) + ")",
               f"i__payload ({len(self.i.payload.as_value())} bits), field by field (i, j: array indices):"]
        width = max(len(f.bits) for f in fields)
        nwidth = max(len(f.name) for f in fields)
        for f in fields:
            idx = f" ({f.index_text})" if f.counts else ""
            out.append(f"  {f.bits:<{width}}  {f.name:<{nwidth}}  {f.meaning}{idx}")
        shape = Shape.cast(self.result_shape) if not isinstance(self.result_shape, data.Layout) else None
        res = (f"{'signed' if shape.signed else 'unsigned'} {shape.width} bits" if shape is not None
               else f"{self.result_shape!r}")
        out.append(f"o__payload: {res}; {self.result_meaning}")
        return out

    #: what one output word means (the Verilog header, docs/payloads.md)
    result_meaning = "the exact dot product of the group"

    # -- gateware helpers --------------------------------------------------------------------------

    def add_sequencer(self, m: Module, max_steps: int, n_steps) -> "SerialSequencer":
        """A :class:`SerialSequencer` of ``max_steps`` wired to this PE's ports; ``n_steps`` = steps of the
        offered group. Returns it (``load``, ``active``, ``step``, ``last`` drive the datapath)."""
        m.submodules.seq = seq = SerialSequencer(max_steps)
        m.d.comb += [
            seq.in_valid.eq(self.i.valid), seq.out_ready.eq(self.o.ready), seq.clear.eq(self.clear),
            seq.n_steps.eq(n_steps),
            self.i.ready.eq(seq.in_ready), self.o.valid.eq(seq.out_valid), self.cycles.eq(seq.cycles),
        ]
        return seq


class SerialSequencer(Component):
    """Handshake and step control of a bit-serial PE: ``n`` steps per group (``1 <= n <= max_steps``).

    Attributes
    ----------
    in_valid, out_ready, clear : In(1)
        From the PE's ``i.valid``, ``o.ready`` and ``clear``.
    n_steps : In(unsigned_width(max_steps))
        Steps of the group offered on the input (sampled when it is accepted; 0 is treated as 1).
    in_ready : Out(1)
        To ``i.ready``: low while ``clear`` or the domain's reset is high.
    load : Out(1)
        The offered group is accepted this cycle: register it.
    active : Out(1)
        A step executes this cycle (the datapath advances).
    step : Out(unsigned_width(max_steps - 1))
        Index of the step executing (0 = first).
    last : Out(1)
        This is the group's last step: the datapath writes the result register this cycle.
    out_valid : Out(1)
        To ``o.valid``.
    cycles : Out(32)
        Steps executed since clear/reset.
    """

    def __init__(self, max_steps: int):
        self.max_steps = check_int("max_steps", max_steps, lo=1, hi=1 << 16)
        super().__init__({
            "in_valid": In(1), "out_ready": In(1), "clear": In(1),
            "n_steps": In(unsigned_width(self.max_steps)),
            "in_ready": Out(1), "load": Out(1), "active": Out(1),
            "step": Out(unsigned_width(max(self.max_steps - 1, 1))),
            "last": Out(1), "out_valid": Out(1), "cycles": Out(CYCLE_COUNTER_WIDTH),
        })

    def elaborate(self, platform):
        m = Module()
        busy = Signal()
        n = Signal.like(self.n_steps)
        at_end = Signal()
        out_free = Signal()
        m.d.comb += [
            at_end.eq(busy & (self.step + 1 >= n)),
            out_free.eq(~self.out_valid | self.out_ready),
            self.last.eq(at_end & out_free),
            self.active.eq(busy & (~at_end | out_free)),
            self.in_ready.eq(~self.clear & ~ResetSignal() & (~busy | (at_end & out_free))),
            self.load.eq(self.in_valid & self.in_ready),
        ]
        with m.If(self.out_valid & self.out_ready):
            m.d.sync += self.out_valid.eq(0)
        with m.If(self.active):
            m.d.sync += [self.step.eq(self.step + 1), self.cycles.eq(self.cycles + 1)]
        with m.If(self.last):
            m.d.sync += [busy.eq(0), self.out_valid.eq(1)]
        with m.If(self.load):
            m.d.sync += [busy.eq(1), self.step.eq(0), n.eq(self.n_steps | (self.n_steps == 0))]
        with m.If(self.clear):
            m.d.sync += [busy.eq(0), self.out_valid.eq(0), self.cycles.eq(0), self.step.eq(0)]
        return m
