"""The layer engine: a PE grid, its block-RAM buffers and the controller that runs a whole layer
(docs/array.md).

The host loads the weight, activation and parameter buffers through ``load``, sets the descriptor and
pulses ``start``; the engine then runs every tile of the layer without the host: for each token tile
``tt`` and channel tile ``kt`` (``tt`` outer) it streams the tile's ``P`` passes from the buffers into the
:class:`~hw.array.grid.PEGrid`, waits for the accumulators, captures them into the grid's result
registers and, while the next tile's passes run, writes the ``rows x cols`` outputs (plus bias,
optionally requantized to INT8) into the output buffer, which ``drain`` streams back.

Buffers (``amaranth.lib.memory``, one write and one read port each; depths from :class:`golden.array.ArrayConfig`)

* weights: word ``kt * P + p`` = pass ``p`` of channels ``kt*rows .. kt*rows+rows-1``, row ``r`` in bits
  ``[r*W, r*W+W)`` (``W`` = the PE's ``weights`` payload width, the method's own encoding);
* activations: ``cols`` banks, one per column, ``A`` bits wide (``A`` = the PE's ``acts`` payload
  width), each with its own read address. Fully connected: word ``tt * P + p`` of bank ``c`` = pass
  ``p`` of token ``tt*cols + c``. Convolution: every bank holds the whole feature map, pixel-major, and
  :class:`~hw.array.conv_address.ConvAddress` gives each column its pixel (zeros for padding);
* parameters: word ``kt`` = ``rows`` x {``bias``: signed 32, ``mult``: unsigned 16} (row ``r`` at ``r*48``);
* outputs: word ``k * T + t`` = output ``(k, t)``: ``acc + bias`` (raw, signed ``acc_width``) or its
  requantization :func:`golden.array.requantize` (sign-extended INT8).

The activation buffer's write port has one enable per activation: the host writes whole words, the
write-back (``to_acts``) one activation per output. No buffer is read and written at one address in one
cycle (the host's loads and reads alternate; the write-back's words must not overlap the layer's
activations, which :mod:`hw.array.images` checks), so the buffers carry Yosys's ``no_rw_check``
(:data:`NO_RW_CHECK`): synthesis builds no bypass for such a collision.

Ports
-----
``load`` : ``In(stream.Signature(StructLayout({"buffer": 2, "addr": ..., "data": ...})))``
    One buffer word per transaction: ``buffer`` 0 weights, 1 activations (one word of every column
    bank), 2 parameters, 3 activations broadcast (the low bits, one column's word, written to every
    bank: a convolution's feature map crosses the link once). Taken only while the engine is idle
    (``ready`` low while it runs). An address past the buffer's depth sets ``load_error`` and writes
    nothing.
``desc`` : ``In(descriptor_layout(config))``
    The layer, sampled at ``start``: ``channels`` (K), ``tokens`` (T), ``passes`` (P), ``k_tiles``,
    ``t_tiles``; ``requant``, ``relu``, ``shift`` (the output stage); ``drain`` (stream the outputs
    back); ``w_base``, ``a_base``, ``p_base`` (first word of the layer in each buffer); ``to_acts``,
    ``dst_base``, ``dst_passes``: also write the requantized outputs into the activation buffer from
    word ``dst_base`` on, as the next layer's input (``dst_passes = K / pe_length`` passes per token
    tile; output ``(k, t)`` goes to word ``dst_base + (t // cols) * dst_passes + k // pe_length``,
    column ``t % cols``, lane ``k % pe_length``), so that layer runs without the host moving data;
    with ``to_map`` as a feature map instead (word ``dst_base + t * dst_passes + k // pe_length`` of every
    bank, ``dst_row_words = row_tokens * dst_passes``), the input of a convolution. ``conv*``: a
    convolution (:class:`~hw.array.conv_address.ConvAddress`); with ``config.depthwise`` also ``conv_dw``,
    a depthwise one (one pass per tap; channel tile ``kt`` reads channel group ``kt * rows // lanes``).
``start`` : ``In(1)``
    Starts the layer when idle (ignored while busy).
``busy`` : ``Out(1)``; ``cycles`` : ``Out(32)``
    ``busy`` from the cycle after ``start`` to the end of the drain; ``cycles``: the compute cycles of the
    current or last layer (from ``start`` to the last write-back, :func:`golden.array.engine_cycles`).
``drain`` : ``Out(stream.Signature(signed(acc_width)))``
    With ``desc.drain``: the ``K * T`` output words in address order after the compute; back-pressure
    holds them.
``load_error`` : ``Out(1)``
    Sticky: a load word was refused (bad buffer or address); cleared by ``start``.
``peek`` : ``In(stream.Signature(StructLayout({"buffer": 3, "addr": ...})))``; ``peek_data`` : ``Out(...)``
    The host reads one buffer word while the engine is idle (``ready`` low while it runs): ``buffer`` as
    ``load`` (1: one word of every bank, 3: bank 0's) or 4, the outputs (two's complement, ``acc_width``
    bits); ``peek_data`` holds the word from the cycle after the transfer until the next one. An address
    past the buffer's depth reads an unspecified word (the link's executor refuses such reads).
"""

from __future__ import annotations

from amaranth.hdl import Cat, Const, Module, Mux, Signal, signed
from amaranth.lib import data, memory, stream
from amaranth.lib.wiring import In, Out

from golden.array import MULT_BITS, OUT_BITS, SHIFT_MAX, ArrayConfig
from golden.bits import twos_range, unsigned_width
from golden.check import check_bool, check_choice
from hw.array.conv_address import ConvAddress
from hw.array.grid import PASS_COUNTER_WIDTH, PEGrid
from hw.base import Component

__all__ = ["LayerEngine", "descriptor_layout", "param_layout", "BUFFERS"]

#: load-port ``buffer`` codes
BUFFERS = {"weights": 0, "acts": 1, "params": 2, "acts_broadcast": 3}

BIAS_BITS = 32

#: Yosys's attribute for a memory whose ports never collide (a read of the word written in that cycle)
NO_RW_CHECK = {"no_rw_check": 1}


def param_layout(rows: int) -> data.ArrayLayout:
    """A parameter word: ``rows`` x {bias, mult}."""
    return data.ArrayLayout(data.StructLayout({"bias": signed(BIAS_BITS), "mult": MULT_BITS}), rows)


def descriptor_layout(config: ArrayConfig) -> data.StructLayout:
    """The descriptor a layer is started with."""
    count = unsigned_width(max(config.out_depth, config.weight_depth, config.act_depth))
    addr = unsigned_width(max(config.weight_depth, config.act_depth, config.param_depth) - 1)
    return data.StructLayout({
        "channels": count, "tokens": count, "passes": PASS_COUNTER_WIDTH,
        "k_tiles": count, "t_tiles": count,
        "requant": 1, "relu": 1, "shift": unsigned_width(SHIFT_MAX), "drain": 1,
        "w_base": addr, "a_base": addr, "p_base": addr,
        "to_acts": 1, "dst_base": addr, "dst_passes": PASS_COUNTER_WIDTH,
        # to_map: write them as a feature map (every bank, word dst_base + t * dst_passes + k // lanes)
        "to_map": 1, "dst_row_words": addr + 2,
        # token tiles: row_tokens outputs per row (fc: T; conv: OW), ceil(row_tokens / cols) tiles a row
        "row_tokens": count,
        # convolution (hw.array.conv_address): map, kernel, stride, padding and the host's strides
        "conv": 1, "conv_h": count, "conv_w": count, "conv_cg": PASS_COUNTER_WIDTH,
        "conv_kh": 4, "conv_kw": 4, "conv_stride": 3, "conv_pad_t": 4, "conv_pad_l": 4,
        "conv_origin": signed(addr + 4), "conv_row_words": addr + 2, "conv_col_step": addr + 2,
        "conv_tile_step": addr + 2, "conv_row_step": addr + 2,
        # a depthwise convolution (config.depthwise): one pass per tap, the channel tile's group
        **({"conv_dw": 1} if config.depthwise else {}),
    })


class LayerEngine(Component):
    """A layer engine of ``config`` (:class:`golden.array.ArrayConfig`) around PEs made by ``make_pe()``,
    in a ``grid_class`` grid (default :class:`~hw.array.grid.PEGrid`; a grid that shares per-row or
    per-column logic has the same constructor and ports, and ``grid.pe`` a PE of the same payload).

    See the module docstring for the buffers and ports; the exact cycle count is
    :func:`golden.array.engine_cycles`. The write-back of a tile runs from the grid's result registers
    while the next tile computes, in two pipeline stages (the result select and bias add, then the
    requantization and the buffer writes; docs/array.md). ``hold_desc``: the driver of ``desc`` holds it constant from
    ``start`` until ``busy`` falls (the host link does: it refuses ``DESC`` while busy), so the engine
    reads the port instead of latching a copy (one flip-flop per descriptor bit less); default False.
    ``param_ram``: ``"auto"`` (default) lets synthesis choose how to build the shallow parameter buffer,
    ``"block"`` asks for block RAM (on the iCE40 UP5K, where logic cells are the scarce resource: 337
    fewer for the iCEBreaker's Stripes 1 x 1, docs/link.md; on the ECP5 its slower output lengthens the
    output stage's path).
    """

    def __init__(self, make_pe, config: ArrayConfig, grid_class=PEGrid, *, hold_desc: bool = False,
                 param_ram: str = "auto"):
        if not isinstance(config, ArrayConfig):
            raise TypeError(f"config must be a golden.array.ArrayConfig, got {type(config).__name__}")
        self.config = config
        self.hold_desc = check_bool("hold_desc", hold_desc)
        self.param_ram = check_choice("param_ram", param_ram, ("auto", "block"))
        self.grid = grid_class(make_pe, config.rows, config.cols, config.acc_width)
        self.pe = self.grid.pe
        #: depthwise convolutions: channel tile kt is in channel group kt >> group_shift (None: not built)
        self.group_shift = None
        if config.depthwise:
            lanes, rows = self.pe.input_lanes, config.rows
            per_group = lanes // rows
            if lanes % rows or per_group & (per_group - 1):
                raise ValueError(f"depthwise=True needs rows to divide the PE's pe_length={lanes} by a power "
                                 f"of two (a tile's rows are channels of one pass), got rows={rows}")
            self.group_shift = per_group.bit_length() - 1
        self.weight_bits = self.grid.issue_layout.members["weights"].size
        self.act_bits = self.grid.issue_layout.members["acts"].size
        self.param_bits = param_layout(config.rows).size
        self.data_bits = max(self.weight_bits, self.act_bits, self.param_bits)
        self.addr_bits = unsigned_width(max(config.weight_depth, config.act_depth, config.param_depth) - 1)
        self.load_layout = data.StructLayout({"buffer": 2, "addr": self.addr_bits, "data": self.data_bits})
        self.desc_layout = descriptor_layout(config)
        depths = (config.weight_depth, config.act_depth, config.param_depth, config.out_depth)
        self.peek_layout = data.StructLayout({"buffer": 3, "addr": unsigned_width(max(depths) - 1)})
        self.peek_bits = max(self.weight_bits, self.act_bits, self.param_bits, config.acc_width)
        #: the requantized outputs can feed the next layer (the PE takes INT8 activations)
        self.chains = self.pe.input_act_bits == OUT_BITS
        super().__init__({
            "load": In(stream.Signature(self.load_layout)),
            "desc": In(self.desc_layout),
            "start": In(1),
            "busy": Out(1),
            "cycles": Out(32),
            "drain": Out(stream.Signature(signed(config.acc_width))),
            "load_error": Out(1),
            "peek": In(stream.Signature(self.peek_layout)),
            "peek_data": Out(self.peek_bits),
        })

    def elaborate(self, platform):
        m = Module()
        cfg = self.config
        rows, cols = cfg.rows, cfg.cols
        m.submodules.grid = grid = self.grid

        # no buffer is read and written at one address in one cycle (module docstring), so Yosys is told
        # not to build the bypass logic that would order such a collision (NO_RW_CHECK)
        m.submodules.wmem = wmem = memory.Memory(shape=self.weight_bits, depth=cfg.weight_depth, init=[],
                                                 attrs=NO_RW_CHECK)
        # the parameter buffer is shallow (one word per channel tile): Yosys builds it of flip-flops or LUT
        # RAM unless param_ram="block" asks for block RAM
        m.submodules.pmem = pmem = memory.Memory(shape=param_layout(rows), depth=cfg.param_depth, init=[],
                                                 attrs={**NO_RW_CHECK, **({"ram_style": "block"}
                                                                          if self.param_ram == "block" else {})})
        m.submodules.omem = omem = memory.Memory(shape=signed(cfg.acc_width), depth=cfg.out_depth, init=[],
                                                 attrs=NO_RW_CHECK)
        lanes, elem = self.pe.input_lanes, self.pe.input_act_bits
        col_bits = self.grid.acts_layout.size             # one column's activations of one pass
        banks = [memory.Memory(shape=col_bits, depth=cfg.act_depth, init=[], attrs=NO_RW_CHECK)
                 for _ in range(cols)]
        for c, bank in enumerate(banks):
            m.submodules[f"amem{c}"] = bank
        w_wr, p_wr, o_wr = (mem.write_port() for mem in (wmem, pmem, omem))
        a_wrs = [bank.write_port(granularity=elem) for bank in banks]   # one activation per enable bit
        a_rds = [bank.read_port() for bank in banks]
        w_rd, p_rd, o_rd = (mem.read_port() for mem in (wmem, pmem, omem))

        # the layer's descriptor: latched at start, unless the driver of the port holds it while busy
        desc = self.desc if self.hold_desc else Signal(self.desc_layout)
        busy_compute = Signal()

        # -- load port: one word per cycle while idle ---------------------------------------------
        ld = self.load.payload
        m.d.comb += self.load.ready.eq(~self.busy)
        take = self.load.valid & self.load.ready
        for code, port, depth in ((0, w_wr, cfg.weight_depth), (2, p_wr, cfg.param_depth)):
            m.d.comb += [port.addr.eq(ld.addr), port.data.eq(ld.data),
                         port.en.eq(take & (ld.buffer == code) & (ld.addr < depth))]
        # buffer 1: one word of every bank (bank c = bits [c*col_bits, (c+1)*col_bits)); buffer 3: the
        # low col_bits written to every bank (a feature map word, sent once for all columns)
        a_load = take & ld.buffer[0] & (ld.addr < cfg.act_depth)
        with m.If(~self.busy):                            # the host's; while busy the write-back's
            for c, port in enumerate(a_wrs):
                m.d.comb += [port.addr.eq(ld.addr),
                             port.data.eq(Mux(ld.buffer[1], ld.data[:col_bits], ld.data[c * col_bits:(c + 1) * col_bits])),
                             port.en.eq(a_load.replicate(len(port.en)))]
        bad = Signal()
        m.d.comb += bad.eq(((ld.buffer == 0) & (ld.addr >= cfg.weight_depth))
                           | (ld.buffer[0] & (ld.addr >= cfg.act_depth))
                           | ((ld.buffer == 2) & (ld.addr >= cfg.param_depth)))
        with m.If(take & bad):
            m.d.sync += self.load_error.eq(1)

        # -- pass reader: runs one pass ahead of the grid, across tile boundaries ------------------
        P = desc.passes
        rd_p = Signal(PASS_COUNTER_WIDTH)
        rd_kt = Signal.like(desc.k_tiles)
        rd_tt = Signal.like(desc.t_tiles)
        rd_wbase = Signal(self.addr_bits + 1)
        rd_abase = Signal(self.addr_bits + 1)
        rd_more = Signal()
        staged = Signal()                         # w_rd.data / a_rd.data hold the next pass
        fire = Signal()
        rd_en = Signal()
        rd_kt_last = Signal()
        m.submodules.conv_address = conv = ConvAddress(self.desc_layout, cols, self.addr_bits, self.group_shift)
        col_valid = Signal(cols)                  # per column: the staged pass is real (not padding)
        m.d.comb += [
            rd_en.eq(busy_compute & rd_more & (~staged | fire)),
            w_rd.en.eq(rd_en), w_rd.addr.eq(rd_wbase + rd_p),
            rd_kt_last.eq(rd_kt + 1 == desc.k_tiles),
            conv.step.eq(rd_en), conv.restart.eq(~self.busy),
        ]
        with m.If(self.busy):                     # the layer's; before start the one to start with
            m.d.comb += conv.desc.eq(desc)
        with m.Else():
            m.d.comb += conv.desc.eq(self.desc)
        for c, port in enumerate(a_rds):
            m.d.comb += [port.en.eq(rd_en), port.addr.eq(Mux(desc.conv, conv.addr[c], rd_abase + rd_p))]
        with m.If(rd_en):
            m.d.sync += col_valid.eq(Mux(desc.conv, conv.valid, (1 << cols) - 1))
        with m.If(rd_en):
            m.d.sync += staged.eq(1)
            with m.If(rd_p + 1 == P):
                m.d.sync += rd_p.eq(0)
                with m.If(rd_kt_last):
                    m.d.sync += [rd_kt.eq(0), rd_wbase.eq(desc.w_base), rd_abase.eq(rd_abase + P)]
                    m.d.sync += rd_tt.eq(rd_tt + 1)
                    with m.If(rd_tt + 1 == desc.t_tiles):
                        m.d.sync += rd_more.eq(0)
                with m.Else():
                    m.d.sync += [rd_kt.eq(rd_kt + 1), rd_wbase.eq(rd_wbase + P)]
            with m.Else():
                m.d.sync += rd_p.eq(rd_p + 1)
        with m.Elif(fire):
            m.d.sync += staged.eq(0)

        # -- issue into the grid ------------------------------------------------------------------
        issued = Signal(PASS_COUNTER_WIDTH)
        issuing = Signal()
        m.d.comb += [
            grid.issue.payload.weights.eq(w_rd.data),
            grid.issue.payload.acts.eq(Cat(Mux(col_valid[c], port.data, 0) for c, port in enumerate(a_rds))),
            grid.issue.valid.eq(staged & issuing),
            fire.eq(grid.issue.valid & grid.issue.ready),
            grid.tile_passes.eq(P),
        ]

        # -- tile position, write-back and requantization -----------------------------------------
        kt = Signal.like(desc.k_tiles)
        k0 = Signal(unsigned_width(cfg.out_depth) + 7)       # first channel of the tile
        ox0 = Signal.like(desc.row_tokens)                   # the tile's first column in its row
        t_row = Signal(unsigned_width(cfg.out_depth) + 7)    # first token of the tile's row (oy * OW)
        wb_r = Signal(range(rows))
        wb_c = Signal(range(cols))
        row_addr = Signal(unsigned_width(cfg.out_depth) + 14)
        m.d.comb += [grid.sel_row.eq(wb_r), grid.sel_col.eq(wb_c)]

        prm = param_layout(rows)(p_rd.data)
        m.d.comb += p_rd.addr.eq(desc.p_base + kt)
        bias = Signal(signed(BIAS_BITS))
        mult = Signal(MULT_BITS)
        m.d.comb += [bias.eq(prm[wb_r].bias), mult.eq(prm[wb_r].mult)]
        # the write-back is two stages: in WRITE, stage 1 selects PE (wb_r, wb_c)'s result register, adds
        # its row's bias and registers the sum with the output's place (wb_*); stage 2, a cycle later (WRITE
        # or WB_NEXT), requantizes it and writes both buffers. The result select and the requantizing
        # multiplier are thus on separate paths; the cycle count is unchanged (stage 2 of the last output
        # lands in WB_NEXT, which the write-back spends anyway)
        raw = Signal(signed(cfg.acc_width))
        m.d.comb += raw.eq(grid.acc + bias)
        wb_raw = Signal.like(raw)
        wb_mult = Signal.like(mult)
        # (p + 2**(s-1)) >> s == ((p >> (s-1)) + 1) >> 1 for s >= 1 (p = q * 2**(s-1) + r, 0 <= r < 2**(s-1):
        # both are floor((q + 1) / 2)): one barrel shifter of the product's width, not of product + round
        product = Signal(signed(cfg.acc_width + MULT_BITS + 1))
        coarse = Signal.like(product)
        scaled = Signal(signed(cfg.acc_width + MULT_BITS + 2))
        m.d.comb += [product.eq(wb_raw * wb_mult),
                     coarse.eq(product >> Mux(desc.shift == 0, 0, desc.shift - 1)[:len(desc.shift)]),
                     scaled.eq(Mux(desc.shift == 0, product, (coarse + 1) >> 1))]
        lo, hi = twos_range(OUT_BITS)
        floor = Signal(signed(OUT_BITS))
        m.d.comb += floor.eq(Mux(desc.relu, 0, lo))
        q = Signal(signed(OUT_BITS))
        with m.If(scaled > hi):
            m.d.comb += q.eq(hi)
        with m.Elif(scaled < floor):
            m.d.comb += q.eq(floor)
        with m.Else():
            m.d.comb += q.eq(scaled)
        wb_addr = Signal.like(o_wr.addr)
        sel_valid = Signal()                     # stage 1 holds an output to write (WRITE, inside the layer)
        wb_valid = Signal()                      # stage 2 writes one (registered sel_valid)
        m.d.sync += [wb_valid.eq(sel_valid), wb_raw.eq(raw), wb_mult.eq(mult), wb_addr.eq(row_addr + wb_c)]
        m.d.comb += [o_wr.addr.eq(wb_addr), o_wr.en.eq(wb_valid), o_wr.data.eq(Mux(desc.requant, q, wb_raw))]

        # -- write-back into the activation buffer, as the next layer's input (desc.to_acts) -------
        # fully connected layout: output (k, t) -> word dst_base + tt * dst_passes + k // lanes of bank
        # t % cols (= wb_c), lane k % lanes; feature map layout (to_map): word dst_base + t * dst_passes
        # + k // lanes of every bank. k // lanes and k % lanes are counted, not divided; dst_tbase is the
        # tile's word (dst_base + tt * dst_passes, or dst_base + t0 * dst_passes)
        k_div = Signal(self.addr_bits + 1)
        k_mod = Signal(range(lanes))
        k0_div = Signal.like(k_div)
        k0_mod = Signal.like(k_mod)
        dst_tbase = Signal(self.addr_bits + 3)
        dst_rowbase = Signal.like(dst_tbase)      # to_map: dst_base + t_row * dst_passes
        if self.chains:
            map_addr = Signal.like(dst_tbase)
            wb_acts_addr = Signal.like(dst_tbase)
            wb_col = Signal.like(wb_c)
            wb_lane = Signal.like(k_mod)
            m.d.comb += map_addr.eq(dst_tbase + wb_c * desc.dst_passes + k_div)
            m.d.sync += [wb_acts_addr.eq(Mux(desc.to_map, map_addr, dst_tbase + k_div)), wb_col.eq(wb_c),
                         wb_lane.eq(k_mod)]
            with m.If(self.busy):
                for c, port in enumerate(a_wrs):
                    m.d.comb += [port.addr.eq(wb_acts_addr), port.data.eq(q.replicate(lanes))]
                    with m.If(desc.to_acts & wb_valid & (desc.to_map | (wb_col == c))):
                        m.d.comb += port.en.eq(1 << wb_lane)

        # -- drain ----------------------------------------------------------------------------------
        d_addr = Signal(unsigned_width(cfg.out_depth))
        d_more = Signal()
        d_valid = Signal()
        d_en = Signal()
        total = Signal(2 * unsigned_width(cfg.out_depth))
        m.d.comb += [total.eq(desc.channels * desc.tokens),
                     self.drain.payload.eq(o_rd.data), self.drain.valid.eq(d_valid),
                     o_rd.addr.eq(d_addr), o_rd.en.eq(d_en)]

        with m.If(busy_compute):
            m.d.sync += self.cycles.eq(self.cycles + 1)

        # the controller: COMPUTE issues a tile's passes, WAIT captures its results into the grid's result
        # registers (and clears the accumulators) once the tile is done and the write-back of the tile
        # before has finished; the next tile's passes are issued from the next cycle while the write-back
        # FSM below writes the captured tile (docs/array.md: the write-back is overlapped)
        c_kt = Signal.like(desc.k_tiles)          # the tile being computed (kt and the tile position: the one written back)
        c_tt = Signal.like(desc.t_tiles)
        wb_start = Signal()
        wb_idle = Signal()                        # the write-back FSM can take a tile this cycle
        wb_ending = Signal()                      # ... or has written its last output (WB_NEXT or idle)
        m.d.comb += [grid.capture.eq(wb_start), grid.clear.eq(wb_start)]
        with m.FSM():
            with m.State("IDLE"):
                with m.If(self.start):
                    if not self.hold_desc:
                        m.d.sync += desc.eq(self.desc)
                    m.d.sync += [self.busy.eq(1), busy_compute.eq(1), self.cycles.eq(0),
                                 self.load_error.eq(0),
                                 rd_p.eq(0), rd_kt.eq(0), rd_tt.eq(0), rd_wbase.eq(self.desc.w_base), rd_abase.eq(self.desc.a_base),
                                 rd_more.eq(1), k_div.eq(0), k_mod.eq(0), k0_div.eq(0), k0_mod.eq(0),
                                 dst_tbase.eq(self.desc.dst_base), dst_rowbase.eq(self.desc.dst_base),
                                 staged.eq(0), issued.eq(0), issuing.eq(1), c_kt.eq(0), c_tt.eq(0),
                                 kt.eq(0), k0.eq(0), ox0.eq(0), t_row.eq(0), row_addr.eq(0)]
                    m.next = "COMPUTE"
            with m.State("COMPUTE"):
                with m.If(fire):
                    m.d.sync += issued.eq(issued + 1)
                    with m.If(issued + 1 == P):
                        m.d.sync += issuing.eq(0)
                        m.next = "WAIT"
            with m.State("WAIT"):
                with m.If(grid.tile_done & wb_idle):
                    m.d.comb += wb_start.eq(1)
                    m.d.sync += issued.eq(0)
                    with m.If(c_kt + 1 == desc.k_tiles):
                        m.d.sync += [c_kt.eq(0), c_tt.eq(c_tt + 1)]
                        with m.If(c_tt + 1 == desc.t_tiles):
                            m.next = "FINISH"
                        with m.Else():
                            m.d.sync += issuing.eq(1)
                            m.next = "COMPUTE"
                    with m.Else():
                        m.d.sync += [c_kt.eq(c_kt + 1), issuing.eq(1)]
                        m.next = "COMPUTE"
            with m.State("FINISH"):                   # the last tile's write-back ends this cycle
                with m.If(wb_ending):
                    m.d.sync += [busy_compute.eq(0), d_addr.eq(0), d_more.eq(1), d_valid.eq(0)]
                    with m.If(desc.drain):
                        m.next = "DRAIN"
                    with m.Else():
                        m.d.sync += self.busy.eq(0)
                        m.next = "IDLE"
            with m.State("DRAIN"):
                m.d.comb += d_en.eq(d_more & (~d_valid | self.drain.ready))
                with m.If(d_en):
                    m.d.sync += [d_valid.eq(1), d_addr.eq(d_addr + 1)]
                    with m.If(d_addr + 1 == total):
                        m.d.sync += d_more.eq(0)
                with m.Elif(self.drain.ready):
                    m.d.sync += d_valid.eq(0)
                with m.If(~d_more & d_valid & self.drain.ready):      # the last word is taken
                    m.d.sync += self.busy.eq(0)
                    m.next = "IDLE"

        # the write-back FSM: the channel parameters read at wb_start, rows * cols outputs from the result
        # registers (WRITE, one a cycle), then the step to the next tile's place (WB_NEXT)
        with m.FSM():
            with m.State("WB_IDLE"):
                m.d.comb += [wb_idle.eq(1), wb_ending.eq(1)]
                with m.If(wb_start):
                    m.d.comb += p_rd.en.eq(1)
                    m.d.sync += [wb_r.eq(0), wb_c.eq(0), k_div.eq(k0_div), k_mod.eq(k0_mod)]
                    m.next = "WRITE"
            with m.State("WRITE"):
                m.d.comb += sel_valid.eq((k0 + wb_r < desc.channels) & (ox0 + wb_c < desc.row_tokens))
                with m.If(wb_c == cols - 1):
                    m.d.sync += [wb_c.eq(0), wb_r.eq(wb_r + 1), row_addr.eq(row_addr + desc.tokens)]
                    with m.If(k_mod == lanes - 1):
                        m.d.sync += [k_mod.eq(0), k_div.eq(k_div + 1)]
                    with m.Else():
                        m.d.sync += k_mod.eq(k_mod + 1)
                    with m.If(wb_r == rows - 1):
                        m.next = "WB_NEXT"
                with m.Else():
                    m.d.sync += wb_c.eq(wb_c + 1)
            with m.State("WB_NEXT"):
                m.d.comb += wb_ending.eq(1)
                with m.If(kt + 1 == desc.k_tiles):
                    m.d.sync += [kt.eq(0), k0.eq(0),
                                 k0_div.eq(0), k0_mod.eq(0)]
                    with m.If(~desc.to_map):
                        m.d.sync += dst_tbase.eq(dst_tbase + desc.dst_passes)
                    with m.If(ox0 + cols < desc.row_tokens):          # the next tile of the row
                        m.d.sync += [ox0.eq(ox0 + cols), row_addr.eq(t_row + ox0 + cols)]
                        with m.If(desc.to_map):
                            m.d.sync += dst_tbase.eq(dst_tbase + cols * desc.dst_passes)
                    with m.Else():                                      # the next row
                        m.d.sync += [ox0.eq(0), t_row.eq(t_row + desc.row_tokens),
                                     row_addr.eq(t_row + desc.row_tokens)]
                        with m.If(desc.to_map):
                            m.d.sync += [dst_rowbase.eq(dst_rowbase + desc.dst_row_words),
                                         dst_tbase.eq(dst_rowbase + desc.dst_row_words)]
                with m.Else():
                    # row_addr has stepped rows * T during the write-back: (k0 + rows) * T + t0 already,
                    # with t0 = t_row + ox0 the tile's first token
                    m.d.sync += [kt.eq(kt + 1), k0.eq(k0 + rows), k0_div.eq(k_div), k0_mod.eq(k_mod)]
                m.next = "WB_IDLE"

        # -- peek: while idle the read ports serve the host (these assignments come last, so they win) --
        pk = self.peek.payload
        pk_take = Signal()
        pk_buffer = Signal(3)
        m.d.comb += [self.peek.ready.eq(~self.busy), pk_take.eq(self.peek.valid & self.peek.ready)]
        with m.If(pk_take):
            m.d.sync += pk_buffer.eq(pk.buffer)
        with m.If(~self.busy):
            for port in (w_rd, p_rd, o_rd, *a_rds):
                m.d.comb += [port.addr.eq(pk.addr), port.en.eq(pk_take)]
        with m.Switch(pk_buffer):
            with m.Case(0):
                m.d.comb += self.peek_data.eq(w_rd.data)
            with m.Case(1):
                m.d.comb += self.peek_data.eq(Cat(port.data for port in a_rds))
            with m.Case(2):
                m.d.comb += self.peek_data.eq(p_rd.data)
            with m.Case(3):
                m.d.comb += self.peek_data.eq(a_rds[0].data)
            with m.Case(4):
                m.d.comb += self.peek_data.eq(o_rd.data.as_unsigned())
        return m
