"""Activation addresses of a convolution, per array column, generated in hardware (docs/array.md).

The input feature map sits in the activation buffer once per column bank, pixel-major: word
``origin + (y * W + x) * CG + cg`` holds input channels ``cg*lanes .. cg*lanes+lanes-1`` of pixel
``(y, x)`` (``CG = C / lanes``). A token tile is ``cols`` consecutive output pixels of one output row
``oy`` (``ox0 .. ox0 + cols - 1``; a row of ``OW`` pixels is ``ceil(OW / cols)`` tiles, the last partial), so
the layer has ``OH * ceil(OW / cols)`` token tiles, as :func:`golden.cycles.layer_cycles` counts them.
Pass ``p`` of a tile is the tap ``(kh, kw)`` and channel group ``cg``, ``cg`` fastest, then ``kw``, then
``kh`` (the order of :func:`golden.layout.group_weights`). Column ``c`` reads pixel
``y = oy*s - pad_t + kh``, ``x = (ox0 + c)*s - pad_l + kw``; outside the map (padding) or past the row's
end its ``valid`` is low and the engine feeds zeros.

A depthwise convolution (``desc.conv_dw``, on an engine built with ``group_shift``; docs/array.md,
"Depthwise convolutions") has one pass per tap: channel tile ``kt`` holds ``rows`` channels of channel
group ``g = kt >> group_shift`` (``2**group_shift = lanes / rows`` tiles a group), every column reads
that group's word of its pixel (``cg`` is replaced by ``g``), and each row's weights are zero outside
its own channel's lane.

Everything is counted, nothing multiplied by a run-time value: the host precomputes the strides in
the descriptor (``origin = a_base - pad_t*W*CG - pad_l*CG``, ``row_words = W*CG``, ``col_step = s*CG``,
``tile_step = cols*s*CG``, ``row_step = s*W*CG``).

Ports: ``desc`` (the engine's descriptor, held during the layer); ``restart`` (go to tile 0, pass 0);
``step`` (to the next pass; a tile's passes repeat ``k_tiles`` times, once per channel tile, before
the next token tile); ``addr[c]``, ``valid[c]`` for the current pass (combinational from the state).
"""

from __future__ import annotations

from amaranth.hdl import Module, Mux, Signal, signed

from hw.base import Component
from amaranth.lib.wiring import In, Out
from amaranth.lib import data

__all__ = ["ConvAddress"]


class ConvAddress(Component):
    """Per-column activation addresses and valid flags of a convolution (module docstring)."""

    def __init__(self, desc_layout, cols: int, addr_bits: int, group_shift: int | None = None):
        self.cols, self.addr_bits, self.group_shift = cols, addr_bits, group_shift
        super().__init__({
            "desc": In(desc_layout), "restart": In(1), "step": In(1),
            "addr": Out(data.ArrayLayout(addr_bits, cols)), "valid": Out(cols),
        })

    def elaborate(self, platform):
        m = Module()
        d, cols = self.desc, self.cols
        wide = signed(self.addr_bits + 4)
        cg, kw, kh, kt = (Signal.like(d.conv_cg, name="cg"), Signal.like(d.conv_kw, name="kw"),
                          Signal.like(d.conv_kh, name="kh"), Signal.like(d.k_tiles, name="kt"))
        kw_off = Signal(wide)        # kw * CG
        tap_row = Signal(wide)       # kh * W * CG
        ox0 = Signal.like(d.row_tokens)
        y0 = Signal(signed(len(d.conv_h) + 2))       # oy * s - pad_t
        x0 = Signal(signed(len(d.conv_w) + 2))       # ox0 * s - pad_l
        base = Signal(wide)          # origin + y0*W*CG + (ox0*s)*CG
        row_base = Signal(wide)      # base at ox0 = 0 of this output row

        word = cg                    # the channel group's word of the pixel
        more_cg = cg + 1 < d.conv_cg
        if self.group_shift is not None:             # depthwise: the tile's group, one pass per tap
            word = Mux(d.conv_dw, kt >> self.group_shift, cg)
            more_cg = more_cg & ~d.conv_dw
        for c in range(cols):
            y = y0 + kh
            x = x0 + c * d.conv_stride + kw
            m.d.comb += [
                self.addr[c].eq(base + c * d.conv_col_step + tap_row + kw_off + word),
                self.valid[c].eq((y >= 0) & (y < d.conv_h) & (x >= 0) & (x < d.conv_w) & (ox0 + c < d.row_tokens)),
            ]

        with m.If(self.restart):
            m.d.sync += [cg.eq(0), kw.eq(0), kh.eq(0), kt.eq(0), kw_off.eq(0), tap_row.eq(0), ox0.eq(0),
                         y0.eq(-d.conv_pad_t), x0.eq(-d.conv_pad_l),
                         base.eq(d.conv_origin), row_base.eq(d.conv_origin)]
        with m.Elif(self.step):
            with m.If(more_cg):
                m.d.sync += cg.eq(cg + 1)
            with m.Else():
                m.d.sync += cg.eq(0)
                with m.If(kw + 1 < d.conv_kw):
                    m.d.sync += [kw.eq(kw + 1), kw_off.eq(kw_off + d.conv_cg)]
                with m.Else():
                    m.d.sync += [kw.eq(0), kw_off.eq(0)]
                    with m.If(kh + 1 < d.conv_kh):
                        m.d.sync += [kh.eq(kh + 1), tap_row.eq(tap_row + d.conv_row_words)]
                    with m.Else():
                        m.d.sync += [kh.eq(0), tap_row.eq(0)]
                        with m.If(kt + 1 < d.k_tiles):
                            m.d.sync += kt.eq(kt + 1)
                        with m.Else():
                            m.d.sync += kt.eq(0)
                            with m.If(ox0 + cols < d.row_tokens):          # the next tile of the row
                                m.d.sync += [ox0.eq(ox0 + cols), x0.eq(x0 + cols * d.conv_stride),
                                             base.eq(base + d.conv_tile_step)]
                            with m.Else():                              # the next output row
                                m.d.sync += [ox0.eq(0), x0.eq(-d.conv_pad_l), y0.eq(y0 + d.conv_stride),
                                             base.eq(row_base + d.conv_row_step),
                                             row_base.eq(row_base + d.conv_row_step)]
        return m
