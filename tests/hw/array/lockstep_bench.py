"""A grid that shares per-row or per-column logic against a PEGrid of the same PEs, cycle by cycle on the
grid's ports, driven as the layer engine drives a grid (hw/array/layer.py): tiles of 1 to 4 passes
offered with random gaps (each row and column a random one of ``views``, so rows differ in steps), then
idle cycles until ``tile_done``, ``capture`` with ``clear`` (the accumulators into the result
registers), every result read (random repeats) while the next tile's first passes are offered, random
idle cycles. ``issue.ready`` and ``tile_done`` are compared in every cycle, ``acc`` in every read."""

from amaranth.hdl import Module

from sim.amaranth_sim import run_sync

__all__ = ["compare_with_pegrid"]


def compare_with_pegrid(shared, plain, views, rng, tiles: int) -> dict:
    """Run the bench on ``shared`` and ``plain`` side by side (``views``: PE input views, whose
    ``weights`` and ``acts`` are drawn per row and per column); asserts no mismatch and returns the
    counts seen (``issued``, ``done``, ``reads``, ``values``)."""
    rows, cols = shared.rows, shared.cols
    wl, al = shared.weights_layout.size, shared.acts_layout.size
    m = Module()
    m.submodules.shared, m.submodules.plain = shared, plain
    seen = {"cycles": 0, "issued": 0, "done": 0, "reads": 0, "mismatch": [], "values": set()}

    async def bench(ctx):
        def drive(valid, clear, sel, passes, capture=0):
            ws = [int(views[rng.integers(len(views))].weights.as_value().value) for _ in range(rows)]
            xs = [int(views[rng.integers(len(views))].acts.as_value().value) for _ in range(cols)]
            word = sum(v << (i * wl) for i, v in enumerate(ws)) | \
                sum(v << (rows * wl + i * al) for i, v in enumerate(xs))
            for g in (shared, plain):
                ctx.set(g.issue.payload.as_value(), word)
                ctx.set(g.issue.valid, valid)
                ctx.set(g.clear, clear), ctx.set(g.capture, capture)
                ctx.set(g.sel_row, sel[0]), ctx.set(g.sel_col, sel[1]), ctx.set(g.tile_passes, passes)

        async def cycle(valid, clear, sel, passes, read, capture=0):
            drive(valid, clear, sel, passes, capture)
            got = [(ctx.get(g.issue.ready), ctx.get(g.tile_done), ctx.get(g.acc)) for g in (shared, plain)]
            compared = [x[:2] + ((x[2],) if read else ()) for x in got]
            if compared[0] != compared[1]:
                seen["mismatch"].append((seen["cycles"], got))
            seen["cycles"] += 1
            await ctx.tick()
            return got[0]

        reads = []                                              # the captured tile's results to read
        for tile in range(tiles + 1):
            passes = int(rng.integers(1, 5))
            issued = 0
            while issued < passes and tile < tiles:             # offer the tile's passes, random gaps,
                valid = int(rng.random() < 0.7)                 # while the tile before is read out
                sel, read = (reads.pop(0), True) if reads else ((0, 0), False)
                ready, _, value = await cycle(valid, 0, sel, passes, read)
                issued += ready and valid
                if read:
                    seen["reads"] += 1
                    seen["values"].add(value)
            seen["issued"] += issued
            while reads:                                        # the rest of the tile before's results
                _, _, value = await cycle(0, 0, reads.pop(0), passes, True)
                seen["reads"] += 1
                seen["values"].add(value)
            if tile == tiles:
                break
            while not (await cycle(0, 0, (0, 0), passes, False))[1]:     # wait for tile_done
                pass
            seen["done"] += 1
            await cycle(0, 1, (0, 0), passes, False, capture=1)          # capture and clear
            reads = [(r, c) for r in range(rows) for c in range(cols) for _ in range(int(rng.integers(1, 3)))]
            for _ in range(int(rng.integers(0, 3))):
                await cycle(0, 0, (0, 0), passes, False)

    run_sync(m, bench)
    assert seen["mismatch"] == []
    return seen
