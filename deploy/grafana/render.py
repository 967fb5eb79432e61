#!/usr/bin/env python3
"""Draw a Grafana dashboard from a real Prometheus, without Grafana: a stand-in for
screenshots on machines where Grafana cannot be installed.

The dashboard JSON is the source of truth: every panel's PromQL targets are sent, as
written, to Prometheus's HTTP API — `/api/v1/query_range` for timeseries panels, an instant
`/api/v1/query` at the end of the window for stat panels — after substituting Grafana's
`$__interval`, `$__range` and `$__rate_interval` the way Grafana computes them (the step is
the window divided by the points a panel shows, never below the scrape interval, and the
rate interval is the larger of step + scrape interval and four scrape intervals), and the
dashboard's own variables (`$window`) with their current values or those given by `--var`,
shown at the top of the page as Grafana shows its variable pickers. Series are
named by each target's `legendFormat`. Panels are laid out on Grafana's 24-column grid from
their `gridPos` (30 px rows, 8 px gutters), row panels become section headings, and each
timeseries is an inline SVG line chart with axes and a legend table, formatted by the
field's unit, in Grafana's dark theme. The page is self-contained — no script, font or
stylesheet is fetched — and is screenshotted with Playwright driving Debian's Chromium.
Nothing here is a chart library: the charts are a few hundred lines of SVG strings, which
keeps the tool dependency-free apart from Playwright for the PNG.

    python deploy/grafana/render.py --prometheus http://127.0.0.1:9090 \\
        --start now-30m --end now -o docs/screenshots/dashboard.png
"""

from __future__ import annotations

import argparse
import html
import json
import math
import re
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

DASHBOARD = Path(__file__).resolve().parent / "dashboards" / "gurulu.json"
CHROMIUM = Path("/usr/bin/chromium")
# The launch recipe of the browser tests (tests/browser/conftest.py): headless, no
# sandbox (containers), and nothing that phones home.
LAUNCH_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

# Grafana's grid (react-grid-layout as Grafana configures it).
COLUMNS = 24
ROW_HEIGHT = 30
GUTTER = 8
PAGE_PADDING = 16
HEADER_HEIGHT = 56
PANEL_TITLE_HEIGHT = 32
LEGEND_ROW = 20
# Grafana asks for about one point per pixel of the panel; a fixed budget is close enough
# for a screenshot and keeps the step independent of the page width.
MAX_POINTS = 400

# Grafana's dark theme and its "classic palette" field colours, in their order.
THEME = {
    "canvas": "#111217",
    "panel": "#181b1f",
    "border": "rgba(204, 204, 220, 0.12)",
    "text": "#ccccdc",
    "muted": "rgba(204, 204, 220, 0.65)",
    "grid": "rgba(240, 250, 255, 0.09)",
}
PALETTE = (
    "#73BF69", "#F2CC0C", "#8AB8FF", "#FF780A", "#F2495C", "#5794F2", "#B877D9",
    "#705DA0", "#37872D", "#FADE2A", "#447EBC", "#C15C17", "#890F02", "#0A437C",
)  # fmt: skip
COLOR_NAMES = {"green": "#73BF69", "red": "#F2495C", "yellow": "#FADE2A", "blue": "#5794F2"}
# What Grafana applies to a field without thresholds of its own.
DEFAULT_THRESHOLDS: list[dict[str, Any]] = [
    {"color": "green", "value": None},
    {"color": "red", "value": 80},
]
CALC_TITLES = {"lastNotNull": "Last *", "last": "Last", "max": "Max", "min": "Min", "mean": "Mean"}


class PrometheusError(RuntimeError):
    """Prometheus refused a query (bad PromQL, a timeout): shown in the panel, as Grafana
    does, instead of ending the whole render."""


# ---------------------------------------------------------------------------------------
# Time window and Grafana's interval variables


@dataclass(frozen=True)
class Window:
    start: float
    end: float
    step: float
    rate_interval: float

    @classmethod
    def over(cls, start: float, end: float, scrape_interval: float) -> Window:
        if end <= start:
            raise ValueError("the window must end after it starts")
        step = max(scrape_interval, math.ceil((end - start) / MAX_POINTS))
        # Grafana's $__rate_interval: enough samples for rate() whatever the step.
        return cls(start, end, step, max(step + scrape_interval, 4 * scrape_interval))

    def expand(self, expr: str, variables: dict[str, str] | None = None) -> str:
        seconds = {
            "$__rate_interval": self.rate_interval,
            "$__interval": self.step,
            "$__range": self.end - self.start,
        }
        for name, value in seconds.items():
            expr = expr.replace(name, f"{int(value)}s")
        return expand_variables(expr, variables or {})


def expand_variables(text: str, variables: dict[str, str]) -> str:
    """Grafana's `$name` and `${name}` replaced by the variables' values; any other `$…`
    (an unknown name) is left for Prometheus to refuse, as Grafana leaves it."""

    def value(match: re.Match[str]) -> str:
        name = match.group(1) or match.group(2)
        return variables.get(name, match.group(0))

    return re.sub(r"\$\{(\w+)\}|\$(\w+)", value, text)


def variables(dashboard: dict, chosen: dict[str, str] | None = None) -> dict[str, str]:
    """The dashboard's variables at their current values, or at those `chosen`, which must
    be among a variable's options."""
    found: dict[str, str] = {}
    options: dict[str, list[str]] = {}
    for variable in dashboard.get("templating", {}).get("list", []):
        name = variable["name"]
        options[name] = [str(o["value"]) for o in variable.get("options", [])]
        current = variable.get("current", {}).get("value")
        found[name] = str(current if current is not None else (options[name] or [""])[0])
    for name, value in (chosen or {}).items():
        if name not in found:
            raise ValueError(f"the dashboard has no variable {name!r}")
        if options[name] and value not in options[name]:
            raise ValueError(f"{name} must be one of {', '.join(options[name])}")
        found[name] = value
    return found


def parse_time(text: str, now: float) -> float:
    """Unix seconds, ISO 8601 (naive means UTC), `now`, or Grafana's `now-15m`."""
    relative = re.fullmatch(r"now(?:-(\d+)([smhd]))?", text.strip())
    if relative:
        amount, unit = relative.groups()
        back = int(amount or 0) * {"s": 1, "m": 60, "h": 3600, "d": 86400}[unit or "s"]
        return now - back
    try:
        return float(text)
    except ValueError:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
        return (parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).timestamp()


# ---------------------------------------------------------------------------------------
# Querying Prometheus


@dataclass(frozen=True)
class Series:
    name: str
    # (unix seconds, value); None where Prometheus answered NaN, which Grafana leaves out.
    points: tuple[tuple[float, float | None], ...]

    def values(self) -> list[float]:
        return [v for _, v in self.points if v is not None]


@dataclass(frozen=True)
class PanelData:
    series: tuple[Series, ...] = ()
    errors: tuple[str, ...] = ()


class Prometheus:
    """The two read endpoints of the Prometheus HTTP API, over the standard library."""

    def __init__(self, url: str, timeout: float = 30) -> None:
        self.url = url.rstrip("/")
        self.timeout = timeout

    def _get(self, path: str, params: dict[str, str]) -> Any:
        address = f"{self.url}{path}?{urllib.parse.urlencode(params)}"
        try:
            with urllib.request.urlopen(address, timeout=self.timeout) as answer:
                body = json.load(answer)
        except urllib.error.HTTPError as error:
            # 400 and 422 carry Prometheus's own explanation in the body.
            body = json.load(error)
        if body.get("status") != "success":
            raise PrometheusError(f"{body.get('errorType')}: {body.get('error')}")
        return body["data"]

    def query_range(self, expr: str, window: Window) -> list[dict]:
        data = self._get(
            "/api/v1/query_range",
            {
                "query": expr,
                "start": str(window.start),
                "end": str(window.end),
                "step": str(window.step),
            },
        )
        return data["result"]

    def query(self, expr: str, at: float) -> list[dict]:
        data = self._get("/api/v1/query", {"query": expr, "time": str(at)})
        if data["resultType"] == "scalar":
            return [{"metric": {}, "value": data["result"]}]
        return data["result"]


def legend_name(legend_format: str | None, labels: dict[str, str], expr: str) -> str:
    """Grafana's naming: the target's legendFormat with {{label}} filled in, else the
    series' label set, else the expression."""
    if legend_format and legend_format != "__auto":
        return re.sub(r"\{\{\s*(\w+)\s*\}\}", lambda m: labels.get(m.group(1), ""), legend_format)
    name = labels.get("__name__", "")
    rest = ", ".join(f'{k}="{v}"' for k, v in sorted(labels.items()) if k != "__name__")
    return f"{name}{{{rest}}}" if rest else name or expr


def _number(text: str) -> float | None:
    value = float(text)
    return None if math.isnan(value) else value


def to_series(results: Iterable[dict], target: dict, expr: str) -> list[Series]:
    """Prometheus's matrix or vector results as named series."""
    found = []
    for result in results:
        samples = result.get("values") or [result["value"]]
        points = tuple((float(t), _number(v)) for t, v in samples)
        found.append(
            Series(legend_name(target.get("legendFormat"), result["metric"], expr), points)
        )
    return found


def evaluate(
    panel: dict, prometheus: Prometheus, window: Window, values: dict[str, str] | None = None
) -> PanelData:
    """Every target of a panel: a range query for a timeseries, an instant one at the end of
    the window for a stat panel; `values` are the dashboard variables'."""
    series: list[Series] = []
    errors: list[str] = []
    for target in panel.get("targets", []):
        if target.get("hide") or not target.get("expr"):
            continue
        expr = window.expand(target["expr"], values)
        try:
            if panel["type"] == "stat":
                results = prometheus.query(expr, window.end)
            else:
                results = prometheus.query_range(expr, window)
        except PrometheusError as error:
            errors.append(f"{target.get('refId', '?')}: {error}")
            continue
        series.extend(to_series(results, target, expr))
    return PanelData(tuple(series), tuple(errors))


# ---------------------------------------------------------------------------------------
# Units and ticks


def _trim(value: float, significant: int = 3) -> str:
    """A number with a few significant digits and no exponent or trailing zeros."""
    if value == 0:
        return "0"
    digits = max(0, significant - 1 - math.floor(math.log10(abs(value))))
    text = f"{value:.{digits}f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def _short(value: float) -> str:
    for size, suffix in ((1e12, " Tri"), (1e9, " B"), (1e6, " Mil"), (1e3, " K")):
        if abs(value) >= size:
            return _trim(value / size) + suffix
    return _trim(value)


def _seconds(value: float) -> str:
    magnitude = abs(value)
    if magnitude == 0:
        return "0 s"
    if magnitude < 1:
        return f"{_trim(value * 1000)} ms"
    for size, suffix in ((86400, "day"), (3600, "hour"), (60, "min")):
        if magnitude >= size:
            return f"{_trim(value / size)} {suffix}"
    return f"{_trim(value)} s"


def format_value(value: float, unit: str | None, decimals: int | None = None) -> str:
    """A value as Grafana shows it for the units this dashboard uses; `decimals` (the
    field's) rounds a plain number, so that a count reads 16, not 16.2."""
    if decimals is not None and unit in (None, "short"):
        value = round(value, decimals)
    if unit == "s":
        return _seconds(value)
    if unit == "reqps":
        return f"{_short(value)} req/s"
    if unit == "percent":
        return f"{_trim(value)}%"
    return _short(value)


def nice_ticks(low: float, high: float, count: int = 5) -> list[float]:
    """Round tick values (1, 2 or 5 times a power of ten) covering [low, high]."""
    if high <= low:
        high = low + (abs(low) or 1)
    raw = (high - low) / max(1, count - 1)
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 2.5, 5, 10) if m * power >= raw)
    ticks = [math.floor(low / step) * step]
    while ticks[-1] < high - step * 1e-9:
        ticks.append(round(ticks[-1] + step, 12))
    return ticks


TIME_STEPS = (10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400)


def time_ticks(start: float, end: float, width: float) -> list[float]:
    """Tick times on round clock values, about one per 75 px."""
    wanted = max(2, int(width // 75))
    step = next((s for s in TIME_STEPS if (end - start) / s <= wanted), TIME_STEPS[-1])
    first = math.ceil(start / step) * step
    return [float(t) for t in range(int(first), int(end) + 1, step)]


def clock(at: float, with_seconds: bool = False) -> str:
    return datetime.fromtimestamp(at, UTC).strftime("%H:%M:%S" if with_seconds else "%H:%M")


# ---------------------------------------------------------------------------------------
# Layout


@dataclass(frozen=True)
class Box:
    left: float
    top: float
    width: float
    height: float


def place(grid_pos: dict, width: float) -> Box:
    """A panel's pixel box on Grafana's grid, for a dashboard `width` px wide (no padding):
    columns of equal width with gutters between them, rows of 30 px with 8 px between."""
    column = (width - GUTTER * (COLUMNS - 1)) / COLUMNS
    x, y, w, h = (grid_pos.get(k, 0) for k in ("x", "y", "w", "h"))
    return Box(
        left=x * (column + GUTTER),
        top=y * (ROW_HEIGHT + GUTTER),
        width=w * column + max(0, w - 1) * GUTTER,
        height=h * ROW_HEIGHT + max(0, h - 1) * GUTTER,
    )


def visible_panels(dashboard: dict) -> list[dict]:
    """The panels on screen: top-level ones, and those inside a collapsed row stay hidden
    as in Grafana (an expanded row's panels are already top level in the JSON)."""
    return [p for p in dashboard.get("panels", []) if "gridPos" in p]


def layout(panels: Sequence[dict], width: float) -> tuple[list[tuple[dict, Box]], float]:
    """Every panel with its box, and the height of the whole grid."""
    placed = [(panel, place(panel["gridPos"], width)) for panel in panels]
    height = max((box.top + box.height for _, box in placed), default=0.0)
    return placed, height


# ---------------------------------------------------------------------------------------
# Charts


@dataclass
class Plot:
    """The plotting area of one chart and its value → pixel scales."""

    left: float
    top: float
    width: float
    height: float
    window: Window
    low: float
    high: float

    def x(self, at: float) -> float:
        span = self.window.end - self.window.start
        return self.left + (at - self.window.start) / span * self.width

    def y(self, value: float) -> float:
        return self.top + (self.high - value) / (self.high - self.low) * self.height


@dataclass
class Chart:
    series: Sequence[Series]
    unit: str | None
    window: Window
    line_width: float = 1
    fill_opacity: float = 0


def value_ticks(series: Sequence[Series]) -> list[float]:
    values = [v for s in series for v in s.values()]
    # Non-negative metrics read best from zero; Grafana's soft range does much the same.
    low, high = min([0.0, *values]), max([0.0, *values])
    return nice_ticks(low, high)


def runs(points: Sequence[tuple[float, float | None]], step: float) -> list[list[tuple]]:
    """Consecutive points with values; a NaN or a missing step breaks the line, as a null
    does in Grafana (connect nulls: never)."""
    lines: list[list[tuple]] = []
    previous = None
    for at, value in points:
        if value is None:
            previous = None
            continue
        if previous is None or at - previous > step * 1.5:
            lines.append([])
        lines[-1].append((at, value))
        previous = at
    return lines


def series_svg(series: Series, color: str, plot: Plot, chart: Chart) -> str:
    parts = []
    for run in runs(series.points, chart.window.step):
        xy = [(plot.x(t), plot.y(v)) for t, v in run]
        if len(xy) == 1:
            # A lone point has no line to draw; Grafana shows it as a dot.
            parts.append(f'<circle cx="{xy[0][0]:.1f}" cy="{xy[0][1]:.1f}" r="2" fill="{color}"/>')
            continue
        line = " L".join(f"{px:.1f},{py:.1f}" for px, py in xy)
        base = plot.y(max(plot.low, 0.0))
        if chart.fill_opacity:
            area = f"M{xy[0][0]:.1f},{base:.1f} L{line} L{xy[-1][0]:.1f},{base:.1f} Z"
            opacity = chart.fill_opacity / 100
            parts.append(f'<path d="{area}" fill="{color}" fill-opacity="{opacity}"/>')
        parts.append(
            f'<path d="M{line}" fill="none" stroke="{color}" stroke-width="{chart.line_width}"'
            ' stroke-linejoin="round"/>'
        )
    return "".join(parts)


def axes_svg(plot: Plot, ticks: Sequence[float], unit: str | None) -> str:
    parts = []
    for tick in ticks:
        y = plot.y(tick)
        right = plot.left + plot.width
        parts.append(f'<line x1="{plot.left:.1f}" x2="{right:.1f}" y1="{y:.1f}" y2="{y:.1f}"/>')
        parts.append(
            f'<text x="{plot.left - 6:.1f}" y="{y + 4:.1f}" text-anchor="end">'
            f"{html.escape(format_value(tick, unit))}</text>"
        )
    times = time_ticks(plot.window.start, plot.window.end, plot.width)
    seconds = len(times) > 1 and (times[1] - times[0]) < 60
    bottom = plot.top + plot.height
    for at in times:
        x = plot.x(at)
        parts.append(f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{plot.top:.1f}" y2="{bottom:.1f}"/>')
        parts.append(
            f'<text x="{x:.1f}" y="{bottom + 16:.1f}" text-anchor="middle">'
            f"{clock(at, seconds)}</text>"
        )
    return f'<g class="axes">{"".join(parts)}</g>'


def chart_svg(chart: Chart, width: float, height: float) -> str:
    """One timeseries chart: grid, y ticks in the panel's unit, clock times, the lines."""
    ticks = value_ticks(chart.series)
    label = max(len(format_value(t, chart.unit)) for t in ticks)
    left = 10 + label * 7
    plot = Plot(
        left, 6, max(10, width - left - 10), max(10, height - 30), chart.window, ticks[0], ticks[-1]
    )
    lines = "".join(series_svg(s, series_color(i), plot, chart) for i, s in enumerate(chart.series))
    return (
        f'<svg width="{width:.0f}" height="{height:.0f}" viewBox="0 0 {width:.0f} {height:.0f}">'
        f"{axes_svg(plot, ticks, chart.unit)}{lines}</svg>"
    )


# ---------------------------------------------------------------------------------------
# Panels and page


# Grafana's reducers over the non-null values (so "last" is "last non-null" here).
REDUCERS: dict[str, Any] = {
    "lastNotNull": lambda values: values[-1],
    "last": lambda values: values[-1],
    "max": max,
    "min": min,
    "mean": lambda values: sum(values) / len(values),
}


def reduce(series: Series, calc: str) -> float | None:
    values = series.values()
    return REDUCERS.get(calc, REDUCERS["lastNotNull"])(values) if values else None


def series_color(index: int) -> str:
    return PALETTE[index % len(PALETTE)]


def legend_html(
    series: Sequence[Series], calcs: Sequence[str], unit: str | None, decimals: int | None = None
) -> str:
    head = "".join(f"<th>{CALC_TITLES.get(c, c)}</th>" for c in calcs)
    rows = []
    for i, s in enumerate(series):
        swatch = f'<i style="background:{series_color(i)}"></i>'
        cells = "".join(f"<td>{_cell(reduce(s, c), unit, decimals)}</td>" for c in calcs)
        rows.append(f"<tr><th>{swatch}{html.escape(s.name)}</th>{cells}</tr>")
    return f'<table class="legend"><tr><th></th>{head}</tr>{"".join(rows)}</table>'


def _cell(value: float | None, unit: str | None, decimals: int | None = None) -> str:
    return "-" if value is None else html.escape(format_value(value, unit, decimals))


def _defaults(panel: dict) -> dict:
    return panel.get("fieldConfig", {}).get("defaults", {})


def timeseries_body(panel: dict, data: PanelData, window: Window, box: Box) -> str:
    defaults = _defaults(panel)
    legend = panel.get("options", {}).get("legend", {})
    custom = defaults.get("custom", {})
    chart = Chart(
        data.series,
        defaults.get("unit"),
        window,
        custom.get("lineWidth", 1),
        custom.get("fillOpacity", 0),
    )
    content = box.height - PANEL_TITLE_HEIGHT - 8
    shown = legend.get("showLegend", True) and legend.get("displayMode") != "hidden"
    # Grafana gives a bottom legend at most about a third of the panel and scrolls the rest;
    # whole rows only, so that a screenshot never shows half a name.
    rows = min(len(data.series) + 1, int(content * 0.35 // LEGEND_ROW)) if shown else 0
    legend_height = rows * LEGEND_ROW
    svg = chart_svg(chart, box.width - 16, content - legend_height)
    calcs = legend.get("calcs", [])
    table = legend_html(data.series, calcs, chart.unit, defaults.get("decimals")) if shown else ""
    return f'{svg}<div class="legend-box" style="height:{legend_height:.0f}px">{table}</div>'


def threshold_color(value: float, defaults: dict) -> str:
    steps = defaults.get("thresholds", {}).get("steps") or DEFAULT_THRESHOLDS
    color = steps[0]["color"]
    for step in steps[1:]:
        if step.get("value") is not None and value >= step["value"]:
            color = step["color"]
    return COLOR_NAMES.get(color, color)


def stat_body(panel: dict, data: PanelData, box: Box) -> str:
    """The reduced value of each series, big, in its threshold's colour."""
    defaults = _defaults(panel)
    calc = (panel.get("options", {}).get("reduceOptions", {}).get("calcs") or ["lastNotNull"])[0]
    size = min(box.height - PANEL_TITLE_HEIGHT - 16, box.width / 4) * 0.75
    shown = []
    for series in data.series:
        value = reduce(series, calc)
        if value is None:
            continue
        style = f"color:{threshold_color(value, defaults)};font-size:{size:.0f}px"
        text = html.escape(format_value(value, defaults.get("unit"), defaults.get("decimals")))
        # Only several values need their names to tell them apart, as in Grafana.
        name = html.escape(series.name) if len(data.series) > 1 else ""
        shown.append(f'<div class="stat-value" style="{style}">{text}<small>{name}</small></div>')
    return "".join(shown)


def panel_html(panel: dict, data: PanelData, window: Window, box: Box) -> str:
    style = (
        f"left:{box.left:.1f}px;top:{box.top:.1f}px;"
        f"width:{box.width:.1f}px;height:{box.height:.1f}px"
    )
    title = html.escape(panel.get("title", ""))
    if panel["type"] == "row":
        return f'<div class="row" style="{style}"><span class="chevron">⌄</span>{title}</div>'
    description = html.escape(panel.get("description", ""), quote=True)
    info = f'<span class="info" title="{description}">i</span>' if description else ""
    error = '<span class="error">!</span>' if data.errors else ""
    if not data.series or not any(s.values() for s in data.series):
        body = '<div class="no-data">No data</div>'
    elif panel["type"] == "stat":
        body = stat_body(panel, data, box)
    else:
        body = timeseries_body(panel, data, window, box)
    messages = "".join(f'<div class="error-text">{html.escape(e)}</div>' for e in data.errors)
    return (
        f'<section class="panel {panel["type"]}" style="{style}">'
        f'<header>{error}{title}{info}</header><div class="body">{body}{messages}</div></section>'
    )


STYLE = """
* { box-sizing: border-box; }
body { margin: 0; background: %(canvas)s; color: %(text)s;
  font: 12px/1.4 Inter, "Helvetica Neue", "DejaVu Sans", Arial, sans-serif; }
.top { height: %(header)dpx; display: flex; align-items: center; gap: 16px;
  padding: 0 %(pad)dpx; border-bottom: 1px solid %(border)s; }
.top h1 { font-size: 18px; font-weight: 500; margin: 0; }
.top .crumb { color: %(muted)s; font-size: 14px; }
.top .range { margin-left: auto; border: 1px solid %(border)s; border-radius: 2px;
  padding: 6px 10px; font-size: 12px; }
.top .note { color: %(muted)s; font-size: 11px; }
.variables { display: flex; gap: 8px; padding: 8px %(pad)dpx 0; }
.variable { display: inline-flex; align-items: center; gap: 8px; padding-right: 8px;
  border: 1px solid %(border)s; border-radius: 2px; font-size: 12px; }
.variable b { font-weight: 500; padding: 5px 8px; background: rgba(204, 204, 220, 0.07);
  border-right: 1px solid %(border)s; }
.grid { position: relative; margin: %(pad)dpx; }
.panel { position: absolute; background: %(panel)s; border: 1px solid %(border)s;
  border-radius: 2px; overflow: hidden; }
.panel header { height: %(title)dpx; padding: 0 8px; display: flex; align-items: center;
  gap: 6px; font-size: 14px; font-weight: 500; white-space: nowrap; overflow: hidden; }
.panel .body { position: absolute; top: %(title)dpx; left: 8px; right: 8px; bottom: 8px; }
.info, .error { display: inline-flex; width: 14px; height: 14px; border-radius: 50%%;
  align-items: center; justify-content: center; font-size: 10px; font-style: italic; }
.info { border: 1px solid %(muted)s; color: %(muted)s; }
.error { background: #D10E5C; color: white; font-style: normal; font-weight: 700; }
.error-text { color: #FF5286; font-size: 11px; }
.axes line { stroke: %(grid)s; stroke-width: 1; }
.axes text { fill: %(muted)s; font-size: 11px; }
.legend-box { overflow-y: auto; }
.legend-box::-webkit-scrollbar { width: 6px; }
.legend-box::-webkit-scrollbar-thumb { background: rgba(204, 204, 220, 0.25); }
.legend { width: 100%%; border-collapse: collapse; font-size: 12px; }
.legend th, .legend td { padding: 1px 6px; height: 20px; white-space: nowrap; }
.legend tr:first-child th { color: #6E9FFF; font-weight: 500; text-align: right; }
.legend tr th:first-child { text-align: left; font-weight: 400; max-width: 1px;
  overflow: hidden; text-overflow: ellipsis; width: 100%%; }
.legend td { text-align: right; }
.legend i { display: inline-block; width: 14px; height: 4px; border-radius: 2px;
  margin-right: 8px; vertical-align: middle; }
.stat-value { display: flex; flex-direction: column; align-items: center; justify-content: center;
  height: 100%%; font-weight: 500; line-height: 1; }
.stat-value small { font-size: 12px; color: %(text)s; }
.no-data { display: flex; align-items: center; justify-content: center; height: 100%%;
  color: %(muted)s; font-size: 14px; }
.row { position: absolute; display: flex; align-items: center; gap: 8px; font-size: 16px;
  font-weight: 500; }
.chevron { color: %(muted)s; font-size: 14px; }
"""


def page_html(
    dashboard: dict,
    window: Window,
    datas: Sequence[PanelData],
    width: int,
    values: dict[str, str] | None = None,
) -> str:
    """The whole dashboard as one self-contained HTML page, `width` px wide, with the
    variables' `values` where Grafana shows their pickers."""
    inner = width - 2 * PAGE_PADDING
    placed, height = layout(visible_panels(dashboard), inner)
    panels = "".join(
        panel_html(panel, data, window, box)
        for (panel, box), data in zip(placed, datas, strict=True)
    )
    style = STYLE % {
        **THEME,
        "header": HEADER_HEIGHT,
        "pad": PAGE_PADDING,
        "title": PANEL_TITLE_HEIGHT,
    }
    span = f"{_stamp(window.start)} to {_stamp(window.end)} UTC"
    labels = {
        v["name"]: v.get("label") or v["name"]
        for v in dashboard.get("templating", {}).get("list", [])
    }
    pickers = "".join(
        f'<span class="variable"><b>{html.escape(labels.get(name, name))}</b>'
        f"{html.escape(value)}</span>"
        for name, value in (values or {}).items()
    )
    return (
        f'<!doctype html><html><head><meta charset="utf-8"><style>{style}</style></head><body>'
        f'<div class="top"><span class="crumb">Dashboards ›</span>'
        f"<h1>{html.escape(dashboard.get('title', ''))}</h1>"
        f'<span class="note">rendered from Prometheus by deploy/grafana/render.py</span>'
        f'<span class="range">{span}</span></div>'
        f'<div class="variables">{pickers}</div>'
        f'<div class="grid" style="width:{inner}px;height:{height:.0f}px">{panels}</div>'
        "</body></html>"
    )


def _stamp(at: float) -> str:
    return datetime.fromtimestamp(at, UTC).strftime("%Y-%m-%d %H:%M:%S")


def render(
    dashboard: dict,
    prometheus: Prometheus,
    window: Window,
    width: int,
    chosen: dict[str, str] | None = None,
) -> str:
    """Query every visible panel, with the dashboard's variables at their current values
    or those `chosen`, and draw the page."""
    values = variables(dashboard, chosen)
    datas = []
    for panel in visible_panels(dashboard):
        data = (
            PanelData() if panel["type"] == "row" else evaluate(panel, prometheus, window, values)
        )
        for error in data.errors:
            print(f"render: panel {panel.get('title')!r}: {error}", file=sys.stderr)
        datas.append(data)
    return page_html(dashboard, window, datas, width, values)


def screenshot(page: str, output: Path, width: int) -> None:
    """The page as a full-height PNG, through Playwright and Debian's Chromium."""
    from playwright.sync_api import sync_playwright

    output.parent.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as driver:
        browser = driver.chromium.launch(executable_path=str(CHROMIUM), args=LAUNCH_ARGS)
        try:
            tab = browser.new_page(viewport={"width": width, "height": 800})
            # The page is self-contained; refusing every request keeps it that way.
            tab.route("**/*", lambda route: route.abort())
            tab.set_content(page, wait_until="load")
            tab.screenshot(path=str(output), full_page=True)
        finally:
            browser.close()


def arguments(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--prometheus", required=True, help="base URL of the Prometheus API")
    parser.add_argument("--dashboard", type=Path, default=DASHBOARD)
    parser.add_argument("--start", default="now-1h", help="unix seconds, ISO 8601 or now-30m")
    parser.add_argument("--end", default="now")
    parser.add_argument("--scrape-interval", type=float, default=15, help="seconds")
    parser.add_argument("--width", type=int, default=1600, help="page width in px")
    parser.add_argument("-o", "--output", type=Path, required=True, help="PNG to write")
    parser.add_argument("--html", type=Path, help="also write the page's HTML here")
    parser.add_argument(
        "--var",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a dashboard variable's value (default: its current one), e.g. window=5m",
    )
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = arguments(argv)
    now = time.time()
    window = Window.over(
        parse_time(args.start, now), parse_time(args.end, now), args.scrape_interval
    )
    dashboard = json.loads(args.dashboard.read_text())
    chosen = dict(item.split("=", 1) for item in args.var)
    page = render(dashboard, Prometheus(args.prometheus), window, args.width, chosen)
    if args.html:
        args.html.write_text(page)
    screenshot(page, args.output, args.width)
    print(f"render: wrote {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
