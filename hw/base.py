# amaranth: UnusedElaboratable=no
"""The base class of every bitsparse generator.

Amaranth warns about an elaboratable that is created but never elaborated. A bitsparse component is
often created without being elaborated, and rightly so: a PE is also the codec of its own payloads
(``pe.pack``, ``pe.unpack``, used by test benches and the host driver), and a generator that refuses
a bad parameter raises from its constructor. So the warning is switched off for our components with
Amaranth's documented linter option, the first line of this file (``# amaranth:
UnusedElaboratable=no``): the warning's source location is this file (``src_loc_at=0`` below).
"""

from amaranth.lib import wiring

__all__ = ["Component"]


class Component(wiring.Component):
    """``wiring.Component`` that may be built without being elaborated (see the module docstring)."""

    def __new__(cls, *args, **kwargs):
        return super().__new__(cls, *args, src_loc_at=0, **kwargs)
