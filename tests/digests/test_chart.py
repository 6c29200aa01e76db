"""What the chart shows a reader, read from the figure: the target line in the legend with its
value, counts from zero, periods without data shaded and named, the last value labelled with the
metric's unit or currency, and the words in Chinese."""

import matplotlib

from handlers.digests import chart
from templates import messages

WEEKS = [f"2026-W{n}" for n in range(40, 48)]


def metric(name: str, unit: str, history: list, target=None) -> dict:
    return {"name": name, "unit": unit, "history": history, "target": target}


def texts(axes) -> list[str]:
    return [t.get_text() for t in axes.findobj(matplotlib.text.Text) if t.get_text()]


def words(language: str = "en") -> dict:
    return messages("digests/chart_words.yaml.j2", language=language, period="2026-W47")


def test_target_legend_zero_baseline_gaps_and_the_last_value():
    dau = metric("DAU", "users", [None] * 5 + [110, None, 130], target=150)
    figure = chart.figure_for([dau], WEEKS, words())
    [axes] = figure.axes
    legend = [t.get_text() for t in axes.get_legend().get_texts()]
    assert legend == ["no data", "target 150 users"]
    assert axes.get_lines()[1].get_linestyle() == "--" and axes.get_lines()[1].get_ydata()[0] == 150
    assert axes.get_ylim()[0] == 0  # a count: 110 → 130 is not drawn as a leap
    shaded = sorted(round(p.get_x() + 0.4) for p in axes.patches)
    assert shaded == [0, 1, 2, 3, 4, 6]  # W40–W44 and W46 had no data
    assert "130 users" in texts(axes) and axes.get_ylabel() == "users" and axes.get_title() == "DAU (users)"
    assert [t.get_text() for t in axes.get_xticklabels()] == [f"W{n}" for n in range(40, 48)]


def test_currency_goes_before_the_number_and_rates_are_not_forced_to_zero():
    cac = metric("CAC", "¥", [50, 45.5], target=40)
    retention = metric("RETENTION", "%", [41, 43.25])
    nps = metric("NPS", "", [-5, 12])
    figure = chart.figure_for([cac, retention, nps], ["2026-10", "2026-11"], words())
    cac_axes, retention_axes, nps_axes = figure.axes
    assert "¥45.5" in texts(cac_axes) and "target ¥40" in texts(cac_axes) and cac_axes.get_ylim()[0] == 0
    assert "43.25%" in texts(retention_axes) and retention_axes.get_ylim()[0] > 40
    assert "12" in texts(nps_axes) and nps_axes.get_ylim()[0] < -5 and nps_axes.get_legend() is None
    assert [t.get_text() for t in cac_axes.get_xticklabels()] == ["2026-10", "2026-11"]


def test_the_chart_in_chinese_and_nothing_to_draw():
    dau = metric("DAU", "users", [None, 120], target=150)
    [axes] = chart.figure_for([dau], WEEKS[-2:], words("zh_CN")).axes
    assert [t.get_text() for t in axes.get_legend().get_texts()] == ["无数据", "目标 150 users"]
    assert chart.chart_png([metric("X", "", [None, None])], WEEKS[-2:], words()) is None
    assert chart.chart_png([dau], WEEKS[-2:], words("zh_CN")).startswith(b"\x89PNG")
