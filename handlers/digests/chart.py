"""The digest's chart: the key metrics over the last weeks, one small panel each, as a PNG."""

from __future__ import annotations

import io

KEY_METRICS = 4


def chart_png(metrics: list[dict], weeks: list[str]) -> bytes | None:
    """PNG bytes, or None when no metric has a value to draw."""
    drawn = [m for m in metrics if any(v is not None for v in m["history"])][:KEY_METRICS]
    if not drawn:
        return None
    # Imported on first use: matplotlib takes about a second to import, which every start (and the
    # sandbox's 5 s budget) would otherwise pay. Figure draws on its own Agg canvas: no display needed.
    from matplotlib.figure import Figure

    figure = Figure(figsize=(8, 2.2 * len(drawn)), dpi=100)
    labels = [w.split("-")[1] for w in weeks]
    for index, metric in enumerate(drawn, start=1):
        axes = figure.add_subplot(len(drawn), 1, index)
        points = [(i, v) for i, v in enumerate(metric["history"]) if v is not None]
        axes.plot([i for i, _ in points], [v for _, v in points], marker="o")
        if metric["target"] is not None:
            axes.axhline(metric["target"], linestyle="--", linewidth=1, color="grey")
        axes.set_title(f"{metric['name']} ({metric['unit']})" if metric["unit"] else metric["name"], fontsize=10)
        axes.set_xticks(range(len(labels)), labels, fontsize=8)
        axes.grid(alpha=0.3)
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()
