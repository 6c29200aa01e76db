"""The digest's chart: the key metrics over the last periods, one small panel each, as a PNG.

What a reader needs to read it right: the dashed target line is in the legend with its value;
counts and amounts start at zero (a line from 120 to 130 must not look like a tenfold rise); a
period without data is shaded and named in the legend instead of leaving a silent gap; the last
value is written next to its point; the unit (or currency) is the metric's own, on the axis and
on the values. The words come from digests/chart_words.yaml.j2 in the reader's language.
"""

from __future__ import annotations

import functools
import io
import logging
import math
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from matplotlib.figure import Figure

log = logging.getLogger("tandem.digests")
KEY_METRICS = 4
# Fonts with Chinese glyphs, if the machine has one: DejaVu Sans (matplotlib's own) has none, and
# matplotlib falls back glyph by glyph along the family list (3.6+).
CJK_FONT_FILES = ("wqy-microhei.ttc", "wqy-zenhei.ttc", "NotoSansCJK-Regular.ttc", "NotoSansSC-Regular.otf",
                  "SourceHanSansSC-Regular.otf")


@functools.cache
def families() -> list[str]:
    # Looked up on the first chart, with matplotlib itself: importing it takes about a second, which
    # every start (and the sandbox's 5 s budget) would otherwise pay.
    from matplotlib import font_manager

    families = ["DejaVu Sans"]
    for path in font_manager.findSystemFonts():
        if Path(path).name in CJK_FONT_FILES:
            font_manager.fontManager.addfont(path)
            families.append(font_manager.FontProperties(fname=path).get_name())
    if len(families) == 1:
        log.warning("no font with Chinese glyphs found (%s): Chinese chart words will not show",
                    ", ".join(CJK_FONT_FILES))
    return families



def starts_at_zero(metric: dict) -> bool:
    """Counts and amounts (users, orders, ¥) start at zero; rates (%) and unitless scores (NPS,
    which may be negative) are drawn around their values."""
    values = [v for v in metric["history"] if v is not None]
    return metric["unit"] not in ("", "%") and all(v >= 0 for v in values)


def with_unit(value: float, unit: str) -> str:
    """130 users, ¥45, 12.5% — a currency sign goes before the number, other units after it."""
    number = f"{value:,.0f}" if float(value).is_integer() else f"{value:,.2f}".rstrip("0").rstrip(".")
    if unit == "%":
        return f"{number}%"
    if len(unit) == 1 and not unit.isalnum():  # ¥ $ € £
        return f"{unit}{number}"
    return f"{number} {unit}" if unit else number


def tick(label: str) -> str:
    """2026-W46 → W46 (the weeks of two months fit); months and quarters keep their year."""
    return label.split("-")[1] if "-W" in label else label


def figure_for(metrics: list[dict], labels: list[str], words: dict) -> Figure | None:
    """The chart as a matplotlib Figure (tests read its texts), or None when nothing has a value."""
    drawn = [m for m in metrics if any(v is not None for v in m["history"])][:KEY_METRICS]
    if not drawn:
        return None
    import matplotlib.text
    from matplotlib.figure import Figure  # its own Agg canvas: no display needed
    from matplotlib.patches import Patch

    figure = Figure(figsize=(8, 2.4 * len(drawn)), dpi=100)
    for index, metric in enumerate(drawn, start=1):
        axes = figure.add_subplot(len(drawn), 1, index)
        history, unit = metric["history"], metric["unit"]
        # NaN breaks the line: a period without data is never bridged as if the value had stayed put.
        axes.plot(range(len(history)), [math.nan if v is None else v for v in history], marker="o")
        handles = []
        missing = [i for i, v in enumerate(history) if v is None]
        for i in missing:
            axes.axvspan(i - 0.4, i + 0.4, color="grey", alpha=0.15, linewidth=0)
        if missing:
            handles.append(Patch(color="grey", alpha=0.15, label=words["no_data"]))
        if metric["target"] is not None:
            handles.append(axes.axhline(metric["target"], linestyle="--", linewidth=1, color="grey",
                                        label=f"{words['target']} {with_unit(metric['target'], unit)}"))
        last = max(i for i, v in enumerate(history) if v is not None)
        axes.annotate(with_unit(history[last], unit), (last, history[last]), textcoords="offset points",
                      xytext=(0, 7), ha="center", fontsize=8, color="tab:blue")
        if starts_at_zero(metric):
            axes.set_ylim(bottom=0, top=axes.get_ylim()[1] * 1.1)
        axes.set_title(f"{metric['name']} ({unit})" if unit else metric["name"], fontsize=10)
        if unit:
            axes.set_ylabel(unit, fontsize=8)
        axes.set_xticks(range(len(labels)), [tick(label) for label in labels], fontsize=8)
        axes.set_xlim(-0.6, len(labels) - 0.4)
        axes.grid(alpha=0.3)
        if handles:
            axes.legend(handles=handles, loc="best", fontsize=8)
    for text in figure.findobj(matplotlib.text.Text):
        text.set_fontfamily(families())
    figure.tight_layout()
    return figure


def chart_png(metrics: list[dict], labels: list[str], words: dict) -> bytes | None:
    """PNG bytes, or None when no metric has a value to draw."""
    figure = figure_for(metrics, labels, words)
    if figure is None:
        return None
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()
