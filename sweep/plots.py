"""The sweep's plots (docs/sweep.md): throughput per kLUT against accuracy loss with the Pareto front,
LUT4 against lanes per architecture, Fmax per device."""

from __future__ import annotations

from pathlib import Path

from sweep.spec import DEVICES as DEVICE_LABELS

__all__ = ["pareto_front", "fronts", "plots"]

_MARKERS = "osD^vP*Xhp"


def pareto_front(points: list[tuple[float, float]]) -> list[int]:
    """Indices of the points ``(loss, throughput)`` no other point dominates (a loss as small or smaller
    and a throughput as large or larger, one of them strictly), by ascending loss (ties: the input
    order). Equal points are all kept."""
    front = []
    for i, (loss, thr) in enumerate(points):
        if not any((l2 <= loss and t2 >= thr) and (l2 < loss or t2 > thr) for l2, t2 in points):
            front.append(i)
    return sorted(front, key=lambda i: (points[i][0], i))


def _xy(r: dict) -> tuple[float, float]:
    """A record's ``(accuracy loss, MMAC/s per kLUT)``; no accuracy (no data) counts as no loss."""
    return (r.get("accuracy_loss") or 0.0, r["mmacs_per_s_per_klut"])


def fronts(records: list[dict]) -> dict:
    """Per device, the ``ok`` records with a throughput that lie on the Pareto front of MMAC/s per kLUT
    against accuracy loss, by ascending loss."""
    out = {}
    for dev in DEVICE_LABELS:
        ok = [r for r in records if r["device"] == dev and r.get("status") == "ok" and r.get("mmacs_per_s_per_klut")]
        if ok:
            out[dev] = [ok[i] for i in pareto_front([_xy(r) for r in ok])]
    return out


def _check(records) -> None:
    if not isinstance(records, list):
        raise ValueError(f"records must be a list of dicts, got {type(records).__name__}")
    for i, r in enumerate(records):
        if not isinstance(r, dict):
            raise ValueError(f"record {i} must be a dict, got {type(r).__name__}")
        for f in ("name", "arch", "device"):
            if f not in r:
                raise ValueError(f"record {i} has no field {f!r}")
        if r["device"] not in DEVICE_LABELS:
            raise ValueError(f"record {i}: unknown device {r['device']!r} (one of {', '.join(DEVICE_LABELS)})")


def _empty(ax) -> None:
    ax.text(0.5, 0.5, "no point with these figures", ha="center", va="center", transform=ax.transAxes)
    ax.set_axis_off()


def plots(records: list[dict], out_dir) -> list[Path]:
    """``pareto.png``, ``luts_vs_lanes.png`` and ``fmax.png`` of the sweep's records in ``out_dir``; their
    paths in that order."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    _check(records)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    archs = sorted({r["arch"] for r in records})
    marker = {a: _MARKERS[i % len(_MARKERS)] for i, a in enumerate(archs)}
    devices = [d for d in DEVICE_LABELS if any(r["device"] == d for r in records)]
    colour = {d: f"C{i}" for i, d in enumerate(DEVICE_LABELS)}
    ok = [r for r in records if r.get("status") == "ok"]
    paths = []

    # throughput per kLUT against accuracy loss, the front per device
    fig, ax = plt.subplots(figsize=(7, 4.5))
    pts = [r for r in ok if r.get("mmacs_per_s_per_klut")]
    no_accuracy = all(r.get("accuracy_loss") is None for r in pts)
    if not pts:
        _empty(ax)
    front_of = fronts(pts)
    for d in devices:
        for r in (r for r in pts if r["device"] == d):
            ax.scatter(*_xy(r), marker=marker[r["arch"]], color=colour[d], zorder=3)
            ax.annotate(r["name"], _xy(r), fontsize=6, xytext=(3, 3), textcoords="offset points")
        front = [_xy(r) for r in front_of.get(d, [])]
        if front:
            ax.step([p[0] for p in front], [p[1] for p in front], where="post", color=colour[d], alpha=0.6,
                    label=f"Pareto front, {DEVICE_LABELS[d]}")
            ax.scatter([p[0] for p in front], [p[1] for p in front], s=160, facecolors="none",
                       edgecolors=colour[d], zorder=2)
    for a in archs:
        if any(r["arch"] == a for r in pts):
            ax.scatter([], [], marker=marker[a], color="grey", label=a)
    if pts:
        ax.set_xlabel("accuracy loss vs INT8 (points)" + (" (no accuracy: the reference layer)" if no_accuracy else ""))
        ax.set_ylabel("MMAC/s per kLUT at Fmax (log scale)")
        ax.set_yscale("log")
        ax.legend(fontsize=7)
        ax.grid(alpha=0.3)
    ax.set_title("Throughput per kLUT against accuracy loss")
    paths.append(out / "pareto.png")
    fig.savefig(paths[-1], dpi=120, bbox_inches="tight")
    plt.close(fig)

    # LUT4 against lanes, per architecture, one panel per device
    fig, axes = plt.subplots(1, max(1, len(devices)), figsize=(5 * max(1, len(devices)), 4), squeeze=False)
    for ax, d in zip(axes[0], devices or [None]):
        mine = [r for r in ok if r["device"] == d and r.get("lut4") is not None and r.get("lanes") is not None]
        if not mine:
            _empty(ax)
            continue
        for a in archs:
            rs = sorted((r for r in mine if r["arch"] == a), key=lambda r: r["lanes"])
            if not rs:
                continue
            c = f"C{archs.index(a) % 10}"
            ax.scatter([r["lanes"] for r in rs], [r["lut4"] for r in rs], marker=marker[a], color=c, label=a)
            lanes = sorted({r["lanes"] for r in rs})
            mean = [sum(r["lut4"] for r in rs if r["lanes"] == n) / sum(r["lanes"] == n for r in rs) for n in lanes]
            ax.plot(lanes, mean, color=c, alpha=0.6)
        ax.set_title(DEVICE_LABELS[d])
        ax.set_xlabel("lanes (weights per pass)")
        ax.set_ylabel("LUT4")
        ax.legend(fontsize=7)
        ax.grid(alpha=0.3)
    paths.append(out / "luts_vs_lanes.png")
    fig.savefig(paths[-1], dpi=120, bbox_inches="tight")
    plt.close(fig)

    # Fmax per point, a bar per device
    names = sorted({r["name"] for r in records})
    fig, ax = plt.subplots(figsize=(max(5, 0.6 * len(names) + 2), 4))
    if not names:
        _empty(ax)
    width = 0.8 / max(1, len(devices))
    labelled = set()
    for j, d in enumerate(devices):
        for i, n in enumerate(names):
            r = next((r for r in records if r["name"] == n and r["device"] == d), None)
            if r is None:
                continue
            x = i + (j - (len(devices) - 1) / 2) * width
            label = DEVICE_LABELS[d] if r.get("status") == "ok" and r.get("fmax_mhz") else "failed"
            if label != "failed":
                ax.bar(x, r["fmax_mhz"], width, color=colour[d], label=None if label in labelled else label)
            else:
                ax.scatter(x, 0, marker="x", color="black", zorder=3, label=None if label in labelled else label)
            labelled.add(label)
    if names:
        ax.set_xticks(range(len(names)))
        ax.set_xticklabels(names, rotation=45, ha="right", fontsize=7)
        ax.set_ylabel("Fmax (MHz)")
        ax.legend(fontsize=7)
        ax.grid(axis="y", alpha=0.3)
    ax.set_title("Fmax after place and route")
    paths.append(out / "fmax.png")
    fig.savefig(paths[-1], dpi=120, bbox_inches="tight")
    plt.close(fig)
    return paths
