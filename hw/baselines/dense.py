"""The dense baselines' common base: B-bit two's-complement weights and activations, one per lane.

Stripes (:class:`hw.baselines.stripes.StripesPE`) and the bit-parallel MAC
(:class:`hw.baselines.parallel_mac.ParallelMAC`) take the same payload and the same configuration,
:class:`golden.baselines.DenseConfig`; they differ in how many steps a group takes (``B`` and 1).
"""

from amaranth.hdl import signed
from amaranth.lib import data

from golden.baselines import DenseConfig
from golden.check import check_int_array
from hw.pe import PE

__all__ = ["DensePE"]


class DensePE(PE):
    """Payload, hardware limits and codec of a dense PE (``pe_length`` 1..64, ``act_bits`` 2..16)."""

    config_class = DenseConfig
    hw_limits = {"pe_length": (1, 64), "act_bits": (2, 16)}
    field_meanings = {"weights[i]": "weight of lane i, two's complement",
                      "acts[i]": "activation of lane i, two's complement"}

    @classmethod
    def weights_layout(cls, config):
        return data.ArrayLayout(signed(config.bits), config.pe_length)

    def encode_weights(self, weights):
        lo, hi = self.config.weight_range
        return [int(v) for v in check_int_array("weights", weights, lo=lo, hi=hi, ndim=1)]
