"""The base class of every bitsparse generator."""

from amaranth.lib import wiring

__all__ = ["Component"]


class Component(wiring.Component):
    """``wiring.Component`` whose constructor may refuse its parameters cleanly.

    Amaranth warns about an elaboratable that is created but never elaborated; a generator that raises
    ``ValueError`` for a bad parameter is such an object, and the warning would bury the error (and
    fails the test run, which sets ``PYTHONWARNINGS=error``). The warning is armed only once the
    constructor has validated its parameters and built the signature.
    """

    def __new__(cls, *args, **kwargs):
        self = super().__new__(cls, *args, src_loc_at=1, **kwargs)
        self._MustUse__silence = True
        return self

    def __init__(self, signature=None):
        super().__init__(signature)
        self._MustUse__silence = False
