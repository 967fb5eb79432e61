"""How the web app words numbers, times and runs."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from gurulu.api.web import format

NOW = datetime(2026, 6, 15, 12, 0, tzinfo=UTC)


def test_numbers_have_thousands_separators_and_changes_a_sign():
    assert format.number(1234567) == "1,234,567"
    assert format.number(None) == "—"
    assert (format.signed(1200), format.signed(-3), format.signed(0)) == ("+1,200", "−3", "0")
    assert format.plural(1, "person", "people") == "1 person"
    assert format.plural(2500, "person", "people") == "2,500 people"


def test_times_read_relative_to_now_both_ways():
    def ago(**delta):
        return format.ago(NOW - timedelta(**delta), NOW)

    assert ago(seconds=10) == "just now"
    assert ago(minutes=3) == "3 min ago"
    assert ago(hours=5) == "5 h ago"
    assert ago(days=1) == "1 day ago"
    assert ago(days=12) == "12 days ago"
    assert ago(days=120) == "4 months ago"
    assert format.ago(NOW + timedelta(minutes=12), NOW) == "in 12 min"
    assert format.ago(None, NOW) == "never"
    assert format.iso_time(NOW) == "2026-06-15T12:00:00Z"
    assert format.exact(NOW) == "2026-06-15 12:00:00 UTC"


def test_durations_reasons_and_statuses_are_plain_words():
    assert format.duration(0.4213) == "0.42 s"
    assert format.duration(42) == "42 s"
    assert format.duration(125) == "2 min 5 s"
    assert format.duration(None) == "—"
    assert format.reason("hourly_tick") == "Scheduled"  # the interval is a setting
    assert format.reason("manual") == "Refresh now"
    assert format.status("succeeded") == "Succeeded"


def test_run_errors_become_one_readable_sentence():
    assert (
        format.plain_error("the audience was paused before this refresh ran")
        == "The audience was paused before this refresh ran."
    )
    assert format.plain_error(
        "gave up after 4 attempts: Code: 241. DB::Exception: Memory limit exceeded"
    ) == ("Gave up after 4 tries: ClickHouse ran out of memory.")
    assert format.plain_error("Code: 62. DB::Exception: Syntax error") == (
        "ClickHouse refused the query (see the details)."
    )
    assert format.plain_error("") == ""


def test_how_often_is_said_in_the_largest_whole_unit():
    assert format.every(3600) == "every hour"
    assert format.every(900) == "every 15 minutes"
    assert format.every(5400) == "every 90 minutes"
    assert format.every(86400) == "every day"
    assert format.every(2 * 86400) == "every 2 days"
    assert format.every(7 * 86400) == "every week"
    assert format.every(60) == "every minute"
    assert format.every(45) == "every 45 seconds"
    assert format.every(1) == "every second"
