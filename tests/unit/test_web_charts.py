"""The geometry of the server-rendered charts."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from gurulu.api.web import charts
from gurulu.common.store.daily import DailyRow

TODAY = date(2026, 6, 15)


def row(days_ago: int, members: int, joined: int = 0, left: int = 0) -> DailyRow:
    return DailyRow("aud", TODAY - timedelta(days=days_ago), members, joined, left, joined - left)


def test_axis_bounds_are_round_and_start_at_zero_unless_that_flattens_the_line():
    assert charts.nice_bounds(0, 287) == (0, 300)
    assert charts.nice_bounds(40, 145) == (0, 150)
    assert charts.nice_bounds(120, 145) == (120, 160)
    assert charts.nice_bounds(9_800, 10_050) == (9_800, 10_200)
    assert charts.nice_bounds(0, 0) == (0, 1)


def test_a_sparkline_needs_two_days_and_says_where_it_went():
    assert charts.sparkline([row(0, 5)], TODAY) is None
    line = charts.sparkline([row(29, 100), row(10, 80), row(0, 140)], TODAY)
    assert line is not None
    xs = [float(point.split(",")[0]) for point in line.points.split()]
    assert xs[0] == 0 and xs[-1] == charts.SPARK_WIDTH
    assert line.direction == "up"
    assert "100 on 17 May, 140 on 15 Jun (+40)" in line.label


def test_rows_outside_the_window_are_left_out():
    line = charts.sparkline([row(45, 1), row(1, 2), row(0, 3)], TODAY)
    assert line is not None and len(line.points.split()) == 2
    assert charts.daily_chart([row(45, 1)], TODAY) is None


def test_the_daily_chart_has_a_point_a_day_and_bars_around_the_middle():
    chart = charts.daily_chart([row(2, 100, 100, 0), row(1, 90, 10, 20), row(0, 95, 5, 0)], TODAY)
    assert chart is not None
    assert len(chart.line.split()) == 3
    assert len(chart.columns) == 30
    joined = [b for b in chart.bars if b.kind == "joined"]
    left = [b for b in chart.bars if b.kind == "left"]
    assert len(joined) == 3 and len(left) == 1
    middle = charts.BARS_HEIGHT / 2
    assert all(b.y + b.height == middle for b in joined)
    assert all(b.y == middle for b in left)
    tallest = max(joined, key=lambda b: b.height)
    assert tallest.height == middle - 2  # the largest change fills its half
    assert chart.bar_max == 100
    assert [t.label for t in chart.ticks] == ["100", "95", "90"]  # zoomed: 90 to 100
    assert chart.summary.startswith("From 100 members on 13 Jun to 95 on 15 Jun")
    assert "no snapshot" in chart.columns[0].title


def test_a_single_snapshot_is_drawn_as_a_dot_and_said_as_the_first_day():
    chart = charts.daily_chart([row(0, 186, 186, 0)], TODAY)
    assert chart is not None
    assert len(chart.line.split()) == 1  # a line of one point draws nothing…
    x, y = chart.dot  # …so the day is a dot, in today's slot, at its height
    slot = charts.PLOT_WIDTH / 30
    assert x == slot * 29.5
    top = charts._y(200, 0, 200)
    assert top < y < charts.PLOT_HEIGHT / 2 and y == charts._y(186, 0, 200)
    assert [t.label for t in chart.ticks] == ["200", "100", "0"]
    assert chart.summary == (
        "186 members on 15 Jun, the only day with a snapshot so far;"
        " 186 joined and 0 left that day."
    )
    assert chart.note is not None and chart.note.startswith("One day so far: 186 members")


def test_the_dot_marks_the_latest_day_and_a_longer_chart_needs_no_note():
    chart = charts.daily_chart([row(5, 100), row(1, 90)], TODAY)
    assert chart is not None
    assert chart.line.split()[-1] == f"{chart.dot[0]:.1f},{chart.dot[1]:.1f}"
    assert chart.note is None and chart.summary.startswith("From 100 members on 10 Jun")


def test_sparklines_start_at_zero_so_a_small_dip_does_not_look_like_a_big_climb():
    dip = charts.sparkline([row(29, 214), row(0, 199)], TODAY)  # −7 %
    climb = charts.sparkline([row(29, 78), row(0, 115)], TODAY)  # +47 %
    assert dip is not None and climb is not None

    def rise(line: charts.Sparkline) -> float:  # of the height, first point to last
        ys = [float(point.split(",")[1]) for point in line.points.split()]
        return (ys[0] - ys[-1]) / (charts.SPARK_HEIGHT - 4)

    assert rise(dip) == pytest.approx(-15 / 250, abs=0.01)  # 0 to 250
    assert rise(climb) == pytest.approx(37 / 120, abs=0.01)  # 0 to 120
    assert abs(rise(dip)) < rise(climb) / 4


def test_the_day_an_audience_was_created_is_its_start_not_a_bar_of_joins():
    created = TODAY - timedelta(days=3)
    rows = [row(3, 215, 215, 0), row(2, 220, 9, 4), row(1, 214, 2, 8), row(0, 216, 3, 1)]
    chart = charts.daily_chart(rows, TODAY, created_on=created)
    assert chart is not None
    assert chart.bar_max == 9  # the filling (215) does not flatten every later day
    assert len(chart.bars) == 6  # 3 days with joins and leaves; none on the first day
    assert chart.summary == (
        "Created on 12 Jun with 215 members, 216 on 15 Jun; 14 joined and 13 left since."
    )
    assert chart.columns[26].title == "12 Jun: created; 215 members at the end of the day"
    assert charts.movement(rows, created) == (14, 13)
    assert charts.movement(rows, None) == (229, 13)
    assert chart.area is None  # zoomed (210 to 220): no area down to an axis that is not 0


def test_a_chart_from_zero_is_filled():
    chart = charts.daily_chart([row(1, 40), row(0, 145)], TODAY)
    assert chart is not None and chart.area is not None
    assert [t.label for t in chart.ticks][-1] == "0"
