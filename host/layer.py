"""Run a layer on a board through the host driver and check it (docs/link.md, docs/array.md).

:func:`engine_of` rebuilds, from a board's ``IDENT``, the :class:`~hw.array.layer.LayerEngine` it runs
(its architecture and :class:`~golden.array.ArrayConfig`; the object is the codec of the buffers, it is
not elaborated). :func:`run_layer` loads a :class:`~hw.array.images.LayerImage` (weights in the method's
compressed format, activations, parameters), sets the descriptor, runs, waits, reads the outputs back
and compares them with the golden model's, and the board's cycle counter with the cycle model's.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from golden.array import ArrayConfig
from golden.link import Buffer
from host.driver import Board, Identity, LinkError

__all__ = ["LayerRun", "engine_of", "run_layer", "descriptor_value"]


class LayerRun(NamedTuple):
    """One layer run on a board."""
    name: str
    outputs: np.ndarray          # [K, T] as read back
    expected: np.ndarray         # [K, T] of the golden model
    cycles: int                  # the board's cycle counter
    model_cycles: int            # golden.array.engine_cycles (compute)
    bytes_sent: int              # buffer bytes written (frames' payload words)
    link_seconds: float          # wall time of the whole exchange (load, descriptor, run, polls, read)
    compute_seconds: float       # cycles / the board's clock

    @property
    def match(self) -> bool:
        return bool(np.array_equal(self.outputs, self.expected))

    def report(self) -> str:
        k, t = self.expected.shape
        diff = int(np.count_nonzero(self.outputs != self.expected))
        return (f"{self.name}: {k} x {t} outputs {'match the golden model' if self.match else f'DIFFER in {diff} places'}; "
                f"cycles {self.cycles:,} measured, {self.model_cycles:,} modelled "
                f"({'equal' if self.cycles == self.model_cycles else 'DIFFERENT'}); "
                f"link {self.link_seconds:.2f} s for {self.bytes_sent:,} bytes, computing "
                f"{self.compute_seconds * 1e6:,.1f} us")


def engine_of(ident: Identity):
    """The architecture name and the engine of a board (``hw.array.archs.engine``)."""
    from hw.array.archs import ARCHS, engine
    names = list(ARCHS)
    if ident.arch >= len(names):
        raise LinkError(f"the board runs architecture #{ident.arch}, which this version does not know "
                        f"(it knows {len(names)}: {', '.join(names)})")
    arch = names[ident.arch]
    cfg = ArrayConfig(rows=ident.rows, cols=ident.cols, weight_depth=ident.weight_depth,
                      act_depth=ident.act_depth, param_depth=ident.param_depth, out_depth=ident.out_depth,
                      acc_width=ident.acc_width)
    eng = engine(arch, cfg)
    got = (eng.weight_bits, eng.act_bits, eng.param_bits, eng.desc_layout.size)
    want = (ident.weight_bits, ident.act_bits, ident.param_bits, ident.desc_bits)
    if got != want:
        raise LinkError(f"the board's {arch} engine has word widths (weights, acts, params, descriptor) {want}, "
                        f"this version builds {got}: the bitstream is from another version")
    return arch, eng


def descriptor_value(engine, desc: dict) -> int:
    """The descriptor's bits as one integer."""
    return int(engine.desc_layout.const(desc).as_value().value)


def _runs(load):
    """Consecutive ``(buffer, addr, data)`` words with one buffer and consecutive addresses, grouped."""
    out = []
    for buffer, addr, word in load:
        if out and out[-1][0] == buffer and out[-1][1] + len(out[-1][2]) == addr:
            out[-1][2].append(word)
        else:
            out.append((buffer, addr, [word]))
    return out


def run_layer(board: Board, engine, image, name: str = "layer") -> LayerRun:
    """Load, run and read back ``image`` on ``board`` (whose engine is ``engine``)."""
    ident = board.identity or board.identify()
    seconds0 = board.link_seconds
    sent = 0
    widths = ident.widths()
    for buffer, addr, words in _runs(image.load):
        board.write(Buffer(buffer), addr, words)
        sent += len(words) * ((widths[Buffer(buffer)] + 7) // 8)
    board.set_descriptor(descriptor_value(engine, {**image.desc, "drain": 0}))
    board.run()
    st = board.wait()
    if st.load_error:
        raise LinkError(f"{name}: the engine refused a load word (load_error)")
    k, t = image.expected.shape
    outputs = np.array(board.read(Buffer.OUTPUTS, 0, k * t), dtype=np.int64).reshape(k, t)
    return LayerRun(name, outputs, np.asarray(image.expected, dtype=np.int64), st.cycles, image.cycles.compute,
                    sent, board.link_seconds - seconds0, st.cycles / ident.clk_hz)
