"""Chart geometry for the server-rendered SVG charts: no chart library, no script.

Each chart is plain data (polyline points, bar rectangles, tick positions) computed here
and drawn by a Jinja macro. Plots use a fixed viewBox stretched to the container's width
(`preserveAspectRatio="none"`, strokes that do not scale), while every label is HTML laid
beside the plot, so a chart stays legible from a phone to a wide screen. Days without a
snapshot are gaps on the time axis, never invented values.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, timedelta

from gurulu.common.store.daily import DailyRow

from .format import day, number, signed

PLOT_WIDTH = 1000
PLOT_HEIGHT = 200
BARS_HEIGHT = 100
SPARK_WIDTH = 120
SPARK_HEIGHT = 32


@dataclass(frozen=True)
class Sparkline:
    points: str
    area: str
    label: str
    direction: str  # "up", "down" or "flat": colours the line


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    kind: str  # "joined" or "left"


@dataclass(frozen=True)
class Column:
    x: float
    width: float
    title: str


@dataclass(frozen=True)
class Tick:
    percent: float  # from the top of the plot
    label: str


@dataclass(frozen=True)
class DailyChart:
    line: str
    area: str | None  # only when the axis starts at zero: an area stands for amounts
    # The latest day's point, drawn as a dot: where the line ends, and with a single
    # snapshot (a polyline of one point draws nothing) the only mark there is.
    dot: tuple[float, float]
    bars: list[Bar]
    columns: list[Column]
    ticks: list[Tick]
    x_labels: list[str]
    bar_max: int
    summary: str
    # Said under a chart with too few days to show a movement yet.
    note: str | None = None


def window(today: date, days: int) -> list[date]:
    return [today - timedelta(days=back) for back in range(days - 1, -1, -1)]


def nice_bounds(low: int, high: int) -> tuple[int, int]:
    """An axis from a round lower bound to a round upper bound. Zero is the lower bound
    unless the values would then fill less than a fifth of the height: a line that small
    hides the movement a marketer looks for."""
    high = max(high, 1)
    top = _nice_ceiling(high)
    if low >= 0.8 * high and high - low > 0:
        step = _nice_ceiling(max((high - low) / 2, 1), (1, 2, 2.5, 5, 10))
        floor = (low // step) * step
        return floor, max(int(math.ceil(high / step) * step), floor + step)
    return 0, top


_FACTORS = (1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10)


def _nice_ceiling(value: float, factors: tuple[float, ...] = _FACTORS) -> int:
    magnitude = 10 ** max(math.floor(math.log10(value)), 0)
    for factor in factors:
        if value <= factor * magnitude:
            return int(factor * magnitude)
    return int(10 * magnitude)


def sparkline(rows: list[DailyRow], today: date, days: int = 30) -> Sparkline | None:
    """The member count over the last `days` days; None with fewer than two days of it.
    Sparklines sit one under another in a list, so each is drawn from zero to a round top,
    not stretched to its own minimum and maximum: a line's slope is its relative change,
    and a 7 % dip does not look steeper than a 47 % climb in the next row. The label
    carries the exact numbers."""
    start = today - timedelta(days=days - 1)
    shown = [row for row in rows if start <= row.snapshot_date <= today]
    if len(shown) < 2:
        return None
    low, high = nice_bounds(0, max(row.member_count for row in shown))
    span = max(high - low, 1)

    def point(row: DailyRow) -> str:
        x = (row.snapshot_date - start).days / max(days - 1, 1) * SPARK_WIDTH
        y = SPARK_HEIGHT - 2 - (row.member_count - low) / span * (SPARK_HEIGHT - 4)
        return f"{x:.1f},{y:.1f}"

    points = " ".join(point(row) for row in shown)
    first, last = shown[0].member_count, shown[-1].member_count
    first_x, last_x = points.split(" ")[0].split(",")[0], points.split(" ")[-1].split(",")[0]
    area = f"{first_x},{SPARK_HEIGHT} {points} {last_x},{SPARK_HEIGHT}"
    direction = "up" if last > first else "down" if last < first else "flat"
    label = (
        f"Members over the last {days} days: {number(first)} on {day(shown[0].snapshot_date)},"
        f" {number(last)} on {day(shown[-1].snapshot_date)} ({signed(last - first)})"
    )
    return Sparkline(points, area, label, direction)


def daily_chart(
    rows: list[DailyRow], today: date, days: int = 30, created_on: date | None = None
) -> DailyChart | None:
    """Members as a line over the window, joined (up) and left (down) as bars beneath.

    The day the audience was created (`created_on`) is its start, not movement: its first
    refresh filled it, and those people are not drawn as a bar of joins that would dwarf
    every later day (nor summed as joined); the line starts there."""
    slots = window(today, days)
    by_day = {row.snapshot_date: row for row in rows if slots[0] <= row.snapshot_date <= today}
    if not by_day:
        return None
    shown = [by_day[d] for d in slots if d in by_day]
    low, high = nice_bounds(min(r.member_count for r in shown), max(r.member_count for r in shown))
    slot = PLOT_WIDTH / days
    line = [
        (slot * (index + 0.5), _y(by_day[d].member_count, low, high))
        for index, d in enumerate(slots)
        if d in by_day
    ]
    points = " ".join(f"{x:.1f},{y:.1f}" for x, y in line)
    area = f"{line[0][0]:.1f},{PLOT_HEIGHT} {points} {line[-1][0]:.1f},{PLOT_HEIGHT}"
    moved = {d: row for d, row in by_day.items() if d != created_on}
    bar_max = max((max(r.joined_count, r.left_count) for r in moved.values()), default=0)
    return DailyChart(
        line=points,
        area=area if low == 0 else None,
        dot=line[-1],
        bars=_bars(slots, moved, bar_max),
        columns=[
            _column(index, d, by_day.get(d), slot, d == created_on) for index, d in enumerate(slots)
        ],
        ticks=[Tick(_y(v, low, high) / PLOT_HEIGHT * 100, number(v)) for v in _ticks(low, high)],
        x_labels=[day(slots[0]), day(slots[len(slots) // 2]), day(slots[-1])],
        bar_max=bar_max,
        summary=_summary(shown, created_on),
        note=_first_day(shown[0]) if len(shown) == 1 else None,
    )


def movement(rows: list[DailyRow], created_on: date | None) -> tuple[int, int]:
    """People who joined and left over `rows`, leaving out the day the audience was created
    (its first refresh filled it: a start, not a movement)."""
    moved = [row for row in rows if row.snapshot_date != created_on]
    return sum(r.joined_count for r in moved), sum(r.left_count for r in moved)


def _y(value: int, low: int, high: int) -> float:
    return PLOT_HEIGHT - (value - low) / max(high - low, 1) * (PLOT_HEIGHT - 8) - 4


def _ticks(low: int, high: int) -> list[int]:
    middle = low + (high - low) // 2
    return [high, middle, low] if middle not in (low, high) else [high, low]


def _bars(slots: list[date], by_day: dict[date, DailyRow], bar_max: int) -> list[Bar]:
    slot = PLOT_WIDTH / len(slots)
    width = max(slot * 0.6, 1)
    half = BARS_HEIGHT / 2 - 2
    bars = []
    for index, d in enumerate(slots):
        row = by_day.get(d)
        if row is None or bar_max == 0:
            continue
        x = slot * index + (slot - width) / 2
        up = row.joined_count / bar_max * half
        down = row.left_count / bar_max * half
        if up:
            bars.append(Bar(x, BARS_HEIGHT / 2 - up, width, up, "joined"))
        if down:
            bars.append(Bar(x, BARS_HEIGHT / 2, width, down, "left"))
    return bars


def _column(
    index: int, d: date, row: DailyRow | None, slot: float, created: bool = False
) -> Column:
    if row is None:
        title = f"{day(d)}: no snapshot"
    elif created:
        title = f"{day(d)}: created; {number(row.member_count)} members at the end of the day"
    else:
        title = (
            f"{day(d)}: {number(row.member_count)} members,"
            f" {number(row.joined_count)} joined, {number(row.left_count)} left"
        )
    return Column(slot * index, slot, title)


def _first_day(row: DailyRow) -> str:
    return (
        f"One day so far: {number(row.member_count)} members on {day(row.snapshot_date)}."
        " A point is added every day, and the line shows how the audience moves."
    )


def _summary(shown: list[DailyRow], created_on: date | None = None) -> str:
    first, last = shown[0], shown[-1]
    if len(shown) == 1:
        return (
            f"{number(first.member_count)} members on {day(first.snapshot_date)}, the only"
            f" day with a snapshot so far; {number(first.joined_count)} joined and"
            f" {number(first.left_count)} left that day."
        )
    joined, left = movement(shown, created_on)
    if first.snapshot_date == created_on:
        return (
            f"Created on {day(first.snapshot_date)} with {number(first.member_count)}"
            f" members, {number(last.member_count)} on {day(last.snapshot_date)};"
            f" {number(joined)} joined and {number(left)} left since."
        )
    return (
        f"From {number(first.member_count)} members on {day(first.snapshot_date)} to"
        f" {number(last.member_count)} on {day(last.snapshot_date)};"
        f" {number(joined)} joined and {number(left)} left in this period."
    )
