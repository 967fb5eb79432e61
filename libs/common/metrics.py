"""Prometheus metrics of every service, in one registry per process (in `gurulu up`, one
registry for all). Names follow Prometheus conventions (base units, `_total` counters);
labels are bounded sets — reasons, outcomes, routes — never audience or workspace ids.

Every series whose labels are known in advance exists from the start, at zero: a counter
that appeared only at its first increment would hide that increment from `rate()` and
`increase()`, and an alert on the first dead letter or the first pause would never fire."""

from __future__ import annotations

from typing import get_args

from prometheus_client import Counter, Gauge, Histogram

from gurulu.common.messages import REFRESH_STREAM, RefreshOutcome, RefreshReason
from gurulu.common.store.destinations import Type as DestinationType
from gurulu.common.store.workspaces import Plan

LAG_BUCKETS = (
    0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600, 7200, 21600, 86400, 172800
)  # fmt: skip
DURATION_BUCKETS = (0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 120, 300)
# Most API answers take a few milliseconds: finer steps there, so that a p95 says something.
API_BUCKETS = (0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)

REFRESH_LAG = Histogram(
    "gurulu_refresh_lag_seconds",
    "Time from a refresh being requested to its completion.",
    ["reason"],
    buckets=LAG_BUCKETS,
)
REFRESH_DURATION = Histogram(
    "gurulu_refresh_duration_seconds",
    "Time an evaluator spent on one refresh.",
    buckets=DURATION_BUCKETS,
)
REFRESH_ROWS_READ = Histogram(
    "gurulu_refresh_rows_read",
    "Rows ClickHouse read to evaluate and diff one refresh.",
    buckets=(1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9),
)
REFRESHES = Counter(
    "gurulu_refreshes_total", "Refreshes finished, by outcome.", ["outcome", "reason"]
)
MEMBERS_CHANGED = Counter(
    "gurulu_audience_members_changed_total", "Members who joined or left.", ["change"]
)
DEAD_LETTERS = Counter(
    "gurulu_dead_letters_total", "Messages moved to a dead-letter stream.", ["stream"]
)
TICKS = Counter("gurulu_ticks_total", "Ticks emitted by this ticker.")
# The alerts measure "late" against the configured interval, whatever it is.
REFRESH_INTERVAL = Gauge(
    "gurulu_refresh_interval_seconds",
    "The interval between ticks this deployment is configured with (GURULU_TICK_INTERVAL_SECONDS).",
)
LAST_TICK = Gauge(
    "gurulu_ticker_last_tick_timestamp_seconds",
    "When this ticker last emitted a tick, in Unix time (0 until it has).",
)
TICK_AUDIENCES = Histogram(
    "gurulu_tick_audiences",
    "Audiences a tick requested refreshes of.",
    buckets=(0, 1, 5, 10, 50, 100, 500, 1000, 5000, 10000),
)
REQUESTS = Counter("gurulu_refresh_requests_total", "Refreshes requested, by reason.", ["reason"])
SNAPSHOTS = Counter("gurulu_snapshots_total", "Daily rows folded, by outcome.", ["outcome"])
QUOTA_REJECTIONS = Counter(
    "gurulu_quota_rejections_total", "Requests refused by a plan quota.", ["dimension", "plan"]
)
API_LATENCY = Histogram(
    "gurulu_api_request_duration_seconds",
    "HTTP request latency by route template.",
    ["method", "route", "status"],
    buckets=API_BUCKETS,
)

STREAM_LENGTH = Gauge("gurulu_stream_length", "Entries in a stream.", ["stream"])
STREAM_PENDING = Gauge(
    "gurulu_stream_pending",
    "Entries delivered to a consumer group but not acknowledged yet.",
    ["stream", "group"],
)
STREAM_BACKLOG = Gauge(
    "gurulu_stream_backlog",
    "Entries of a stream not yet delivered to a consumer group.",
    ["stream", "group"],
)
STREAM_CONSUMERS = Gauge(
    "gurulu_stream_consumers", "Consumers of a consumer group.", ["stream", "group"]
)

# Destinations: labels are the platform (webhook, meta_custom_audience,
# google_customer_match) and a bounded outcome, never a destination or audience id.
DESTINATION_DELIVERIES = Counter(
    "gurulu_destination_deliveries_total",
    "Requests sent to destination platforms, by outcome"
    " (ok, partial, transient_error, permanent_error).",
    ["platform", "outcome"],
)
DESTINATION_ROWS = Counter(
    "gurulu_destination_rows_total",
    "People sent to destinations, by change (add, remove) and outcome"
    " (accepted, rejected, skipped).",
    ["platform", "change", "outcome"],
)
DESTINATION_SYNCS = Counter(
    "gurulu_destination_syncs_total",
    "Destination syncs finished, by status (succeeded, partial, failed).",
    ["platform", "status"],
)
DESTINATION_SYNC_DURATION = Histogram(
    "gurulu_destination_sync_duration_seconds",
    "Time one destination sync took, from its start to its last batch.",
    ["platform"],
    buckets=DURATION_BUCKETS,
)
DESTINATION_SYNC_LAG = Histogram(
    "gurulu_destination_sync_lag_seconds",
    "Time from a refresh finishing to its sync being delivered to a destination.",
    ["platform"],
    buckets=LAG_BUCKETS,
)
DESTINATIONS_PAUSED = Counter(
    "gurulu_destinations_paused_total",
    "Destinations paused by the service after permanent or repeated failures.",
    ["platform", "why"],
)

DELIVERY_OUTCOMES = ("ok", "partial", "transient_error", "permanent_error")
ROW_CHANGES = ("add", "remove")
ROW_OUTCOMES = ("accepted", "rejected", "skipped")
SYNC_STATUSES = ("succeeded", "partial", "failed")
PAUSE_CAUSES = ("permanent", "repeated")


def _prime_known_series() -> None:
    for reason in get_args(RefreshReason):
        REQUESTS.labels(reason)
        REFRESH_LAG.labels(reason)
        for outcome in get_args(RefreshOutcome):
            REFRESHES.labels(outcome, reason)
    for change in ("joined", "left"):
        MEMBERS_CHANGED.labels(change)
    for outcome in ("folded", "failed"):
        SNAPSHOTS.labels(outcome)
    DEAD_LETTERS.labels(REFRESH_STREAM)
    for plan in get_args(Plan):
        QUOTA_REJECTIONS.labels("audiences", plan)
    for platform in get_args(DestinationType):
        _prime_destination_series(platform)


def _prime_destination_series(platform: str) -> None:
    DESTINATION_SYNC_DURATION.labels(platform)
    DESTINATION_SYNC_LAG.labels(platform)
    for outcome in DELIVERY_OUTCOMES:
        DESTINATION_DELIVERIES.labels(platform, outcome)
    for change in ROW_CHANGES:
        for outcome in ROW_OUTCOMES:
            DESTINATION_ROWS.labels(platform, change, outcome)
    for status in SYNC_STATUSES:
        DESTINATION_SYNCS.labels(platform, status)
    for cause in PAUSE_CAUSES:
        DESTINATIONS_PAUSED.labels(platform, cause)


_prime_known_series()
