"""Benchmark: an audience refresh against the bare cohort query, on synthetic events.

    .venv/bin/python bench/refresh.py [--events 10000000] [--people 2000000]
                                      [--data-dir DIR] [--repeat 5]

Opens chDB at a fresh data dir (one chDB path per process), loads the events inside
ClickHouse (`INSERT … SELECT … FROM numbers(…)`, no rows built in Python), defines the
product page's high-intent cohort, promotes it to an audience and times:

- bare: `SELECT count() FROM (<cohort query>)`, at the refreshes' evaluation times;
- first refresh: an audience with no members yet (everyone joins), on fresh audiences;
- steady-state refresh: further runs of one audience with the evaluation time moved by a
  second, so almost nothing changes.

Wall-clock time is what the goal is about; the process CPU time (chDB's threads included)
is printed beside it because it hardly moves when something else shares the cores.
The last line is `refresh/bare = X.XX`: median steady-state refresh over median bare.
See bench/README.md.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import resource
import shutil
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from gurulu.api import cohorts as cohort_cases
from gurulu.common import evaluate
from gurulu.common.clickhouse import ClickHouse, connect
from gurulu.common.errors import InvalidRequest
from gurulu.common.ids import new_id
from gurulu.common.schema import migrate
from gurulu.common.store import audiences, runs, workspaces
from gurulu.common.store.audiences import Audience
from gurulu.common.store.cohorts import Cohort
from gurulu.common.store.runs import Run
from gurulu.evaluator.refresh import refresh

NOW = datetime(2026, 6, 15, 12, 0, 0, tzinfo=UTC)
DAYS = 60
DATABASE = "gurulu_bench"
RULES = ["event:add_to_cart in last 7d", "event:checkout_started in last 7d"]

# The person behind event `number`: activity is skewed towards low numbers (pow > 1), and a
# person's id is a hash of their number. Shoppers (15 % of people) produce most of the funnel
# events; everyone else mostly browses. Only integers are formatted into these statements.
_PERSON = "concat('u_', lower(hex(cityHash64(pid, 17))))"
_EVENTS = """
INSERT INTO events (workspace_id, event, person_id, timestamp, properties, received_at)
SELECT {{ws:String}}, ev, {person}, ts,
    multiIf(
        ev = 'purchase',
        map('amount', toString(round(5 + (cityHash64(number, 4) % 50000) / 100, 2)),
            'currency', ['USD', 'EUR', 'TRY', 'GBP'][1 + cityHash64(number, 5) % 4]),
        ev IN ('add_to_cart', 'product_view'),
        map('product_id', concat('sku_', toString(cityHash64(number, 6) % 5000))),
        map()),
    ts + toIntervalMillisecond(cityHash64(number, 7) % 5000)
FROM (
    SELECT number,
        toUInt64(floor({people} * pow((cityHash64(number, 1) % 1000000000) / 1e9, 1.3))) AS pid,
        cityHash64(pid, 11) % 100 < 15 AS shopper,
        cityHash64(number, 2) % 1000 AS r,
        if(shopper,
           multiIf(r < 380, 'page_view', r < 580, 'product_view', r < 760, 'add_to_cart',
                   r < 860, 'checkout_started', r < 910, 'purchase', r < 960, 'search',
                   r < 990, 'login', 'signup'),
           multiIf(r < 650, 'page_view', r < 800, 'product_view', r < 880, 'session_start',
                   r < 940, 'search', r < 975, 'login', r < 985, 'signup',
                   r < 995, 'add_to_cart', 'checkout_started')) AS ev,
        {{now:DateTime64(3, 'UTC')}} - toIntervalMillisecond(cityHash64(number, 3) % {span_ms})
            AS ts
    FROM numbers({start}, {count})
)
"""
# Person properties for 40 % of people (and those people as known people).
_WITH_PROPERTIES = (
    "SELECT number AS pid FROM numbers({people}) WHERE cityHash64(number, 20) % 100 < 40"
)
_PROPERTIES = """
INSERT INTO person_properties (workspace_id, person_id, key, value, updated_at, version)
SELECT {{ws:String}}, person_id, kv.1, kv.2, {{now:DateTime64(6, 'UTC')}}, {{version:UInt64}}
FROM (
    SELECT {person} AS person_id,
        [('plan', ['free', 'pro', 'business'][1 + cityHash64(pid, 21) % 3]),
         ('country', ['TR', 'DE', 'US', 'GB', 'FR', 'NL'][1 + cityHash64(pid, 22) % 6]),
         ('subscription_status', ['active', 'trialing', 'canceled'][1 + cityHash64(pid, 23) % 3])]
            AS kvs
    FROM ({with_properties})
)
ARRAY JOIN kvs AS kv
"""
_PROPERTY_PEOPLE = """
INSERT INTO people (workspace_id, person_id)
SELECT {{ws:String}}, {person} FROM ({with_properties})
"""

# Refresh checkpoints, each named after the step that ends there.
_PHASES = {
    "running": "prepare",  # run, audience and cohort reads; run record 'running'
    "changes": "stage",  # compile + INSERT … SELECT of the delta (GROUP BY with the members)
    "staged": "count+record",  # counts of the delta (when it has rows), run record 'staged'
    "members": "apply",  # INSERT … SELECT of the delta into audience_members
    "succeeded": "finish",  # run record 'succeeded'
}


@dataclass
class Timed:
    seconds: float
    cpu: float  # process CPU time, chDB's threads included
    run: Run | None = None
    phases: dict[str, float] = field(default_factory=dict)
    count: int | None = None


def say(text: str = "") -> None:
    print(text, flush=True)


def secs(seconds: float) -> str:
    return f"{seconds:.3f}s"


def load(db: ClickHouse, ws: str, events: int, people: int, chunk: int) -> None:
    say(f"loading {events:,} events for ~{people:,} people: {DAYS} days up to {NOW:%Y-%m-%d %H:%M}")
    say(f"  UTC, inside ClickHouse, {chunk:,} rows per INSERT … SELECT")
    started = time.perf_counter()
    chunks = (events + chunk - 1) // chunk
    for index, start in enumerate(range(0, events, chunk), 1):
        count = min(chunk, events - start)
        sql = _EVENTS.format(
            person=_PERSON, people=people, span_ms=DAYS * 86_400_000, start=start, count=count
        )
        t0 = time.perf_counter()
        db.command(sql, {"ws": ws, "now": NOW})
        took = time.perf_counter() - t0
        say(
            f"  events {index}/{chunks}: {count:,} rows in {secs(took)}"
            f" ({count / took / 1e6:.2f}M rows/s, {start + count:,} so far)"
        )
    events_s = time.perf_counter() - started
    t0 = time.perf_counter()
    shape = {"person": _PERSON, "with_properties": _WITH_PROPERTIES.format(people=people)}
    db.command(_PROPERTIES.format(**shape), {"ws": ws, "now": NOW, "version": time.time_ns()})
    db.command(_PROPERTY_PEOPLE.format(**shape), {"ws": ws})
    props_s = time.perf_counter() - t0
    scoped = {"ws": ws}
    n_events = db.scalar("SELECT count() FROM events WHERE workspace_id = {ws:String}", scoped)
    n_props = db.scalar(
        "SELECT count() FROM person_properties WHERE workspace_id = {ws:String}", scoped
    )
    n_people = db.scalar(
        "SELECT uniqExact(person_id) FROM people WHERE workspace_id = {ws:String}", scoped
    )
    rate = n_events / events_s / 1e6
    say(f"loaded events: {n_events:,} rows in {secs(events_s)} ({rate:.2f}M rows/s)")
    say(f"loaded person_properties: {n_props:,} rows in {secs(props_s)}; people: {n_people:,}")
    mix = db.rows(
        "SELECT event, count() AS c FROM events WHERE workspace_id = {ws:String}"
        " GROUP BY event ORDER BY c DESC",
        scoped,
    )
    say("event mix: " + ", ".join(f"{name} {c / n_events:.1%}" for name, c in mix))


def settle(db: ClickHouse, limit_s: float = 900) -> None:
    """Wait for the merges the load started, so that they do not run under the measurements
    (a production table has long settled)."""
    t0 = time.perf_counter()
    query = "SELECT count() FROM system.merges WHERE database = {db:String}"
    while db.scalar(query, {"db": DATABASE}) and time.perf_counter() - t0 < limit_s:
        time.sleep(1)
    parts = db.rows(
        "SELECT table, count(), sum(rows) FROM system.parts WHERE database = {db:String}"
        " AND active AND table IN ('events', 'people', 'person_properties')"
        " GROUP BY table ORDER BY table",
        {"db": DATABASE},
    )
    listed = ", ".join(f"{table} {n} ({rows:,} rows)" for table, n, rows in parts)
    say(f"merges settled after {secs(time.perf_counter() - t0)}; active parts: {listed}")


def bare(db: ClickHouse, cohort: Cohort, at: datetime) -> Timed:
    t0, c0 = time.perf_counter(), time.process_time()
    query = evaluate.query_for(db, cohort.workspace_id, cohort.definition, at, cohort.cohort_id)
    count = int(db.scalar(f"SELECT count() FROM ({query.sql})", query.params))
    return Timed(time.perf_counter() - t0, time.process_time() - c0, count=count)


def timed_refresh(db: ClickHouse, audience: Audience, at: datetime) -> Timed:
    """Queue a run and carry it out at evaluation time `at`, timing each step."""
    run = Run(audience.workspace_id, audience.audience_id, new_id("run"), "manual", "queued", at)
    runs.save(db, run)
    marks: list[tuple[str, float]] = []
    t0, c0 = time.perf_counter(), time.process_time()
    done = refresh(
        db,
        audience.workspace_id,
        audience.audience_id,
        run.run_id,
        clock=lambda: at,
        checkpoint=lambda step: marks.append((step, time.perf_counter())),
    )
    took, cpu = time.perf_counter() - t0, time.process_time() - c0
    if done.status != "succeeded":
        raise SystemExit(f"refresh {run.run_id} ended {done.status}: {done.error}")
    ends = [t0] + [moment for _, moment in marks]
    phases = {_PHASES.get(step, step): ends[i + 1] - ends[i] for i, (step, _) in enumerate(marks)}
    return Timed(took, cpu, done, phases)


def describe(timed: Timed) -> str:
    run = timed.run
    assert run is not None
    phases = " ".join(f"{name} {seconds:.3f}" for name, seconds in timed.phases.items())
    return (
        f"{secs(timed.seconds)} (cpu {secs(timed.cpu)})  members={run.member_count:,}"
        f" joined={run.joined_count:,} left={run.left_count:,} rows_read={run.rows_read:,}"
        f"  [{phases}]"
    )


def summary(name: str, samples: list[float]) -> str:
    return (
        f"{name:<22} median {secs(statistics.median(samples))}"
        f"  min {secs(min(samples))}  max {secs(max(samples))}  (n={len(samples)})"
    )


def new_audience(db: ClickHouse, cohort: Cohort, name: str) -> Audience:
    ws = cohort.workspace_id
    made = Audience(ws, new_id("aud"), name, cohort.cohort_id, "hourly", "active", NOW, NOW)
    audiences.save(db, made)
    return made


def load_average() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def measure(db: ClickHouse, cohort: Cohort, repeat: int) -> tuple[list[Timed], ...]:
    """First refreshes, and steady-state refreshes interleaved with bare queries."""
    audience = new_audience(db, cohort, f"{cohort.name} live")
    warm = bare(db, cohort, NOW)
    say(f"bare warm-up at +0s: {secs(warm.seconds)} count={warm.count:,}")
    say(f"load average before measuring: {load_average()}")
    say("\nfirst refresh (no members yet: everyone joins)")
    firsts = [timed_refresh(db, audience, NOW)]
    say(f"  first 1 ({audience.audience_id}): {describe(firsts[0])}")
    say("\nsteady state (same audience, evaluation time +1s per run), bare at the same time")
    bares, steadies = [], []
    for i in range(1, repeat + 1):
        at = NOW + timedelta(seconds=i)
        bares.append(bare(db, cohort, at))
        steadies.append(timed_refresh(db, audience, at))
        b, s = bares[-1], steadies[-1]
        say(f"  +{i}s bare {secs(b.seconds)} (cpu {secs(b.cpu)}) count={b.count:,}")
        say(f"      refresh {describe(s)}")
        if s.run is not None and s.run.member_count != b.count:
            say(f"  !! members {s.run.member_count:,} != bare count {b.count:,}")
    say("\nfirst refresh again, on fresh audiences of the same cohort")
    for i in range(2, repeat + 1):
        fresh = new_audience(db, cohort, f"{cohort.name} live {i}")
        firsts.append(timed_refresh(db, fresh, NOW))
        say(f"  first {i} ({fresh.audience_id}): {describe(firsts[-1])}")
    return bares, firsts, steadies


def report(bares: list[Timed], firsts: list[Timed], steadies: list[Timed]) -> None:
    say("\nsummary")
    say(summary("bare", [t.seconds for t in bares]))
    say(summary("first refresh", [t.seconds for t in firsts]))
    say(summary("steady-state refresh", [t.seconds for t in steadies]))
    for phase in _PHASES.values():
        say(summary(f"  steady {phase}", [t.phases.get(phase, 0.0) for t in steadies]))
    say(summary("bare, cpu", [t.cpu for t in bares]))
    say(summary("steady-state, cpu", [t.cpu for t in steadies]))
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    say(f"peak RSS: {peak_kib / 1024 / 1024:.2f} GiB")
    say(f"load average at the end: {load_average()} (other work shows up in wall-clock time)")

    def ratio(of: str) -> float:
        medians = [statistics.median(getattr(t, of) for t in ts) for ts in (steadies, bares)]
        return medians[0] / medians[1]

    say(f"refresh/bare (process CPU time) = {ratio('cpu'):.2f}")
    say(f"refresh/bare = {ratio('seconds'):.2f}")


def code_version() -> str:
    """Which refresh is measured: the evaluator's source file, its hash and change time."""
    source = Path(sys.modules[refresh.__module__].__file__ or "")
    digest = hashlib.sha1(source.read_bytes()).hexdigest()[:12]
    changed = datetime.fromtimestamp(source.stat().st_mtime, UTC)
    return f"{source.name} sha1 {digest}, changed {changed:%Y-%m-%d %H:%M:%S} UTC"


def run_bench(args: argparse.Namespace, data_dir: Path) -> None:
    import chdb

    db = connect(f"chdb://{data_dir / 'clickhouse'}", DATABASE)
    version = db.scalar("SELECT version()")
    say(f"chDB {chdb.__version__} (ClickHouse {version}), {os.cpu_count()} cores, {data_dir}")
    say(f"measuring the evaluator's {code_version()}")
    migrate(db)
    ws = workspaces.create(db, "Bench shop", "custom")[0].workspace_id
    load(db, ws, args.events, args.people, args.chunk)
    settle(db)
    t0 = time.perf_counter()
    rules = args.rule or RULES
    name = "High intent" if rules == RULES else "Bench cohort"
    try:
        cohort = cohort_cases.define(db, ws, name, list(rules), "all", clock=lambda: NOW)
    except InvalidRequest as error:
        raise SystemExit(f"bad --rule: {error}") from error
    took = secs(time.perf_counter() - t0)
    say(f"cohort {cohort.name!r} {rules}: {cohort.count:,} people (defined in {took})")
    report(*measure(db, cohort, args.repeat))
    db.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--events", type=int, default=10_000_000)
    parser.add_argument("--people", type=int, default=2_000_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--chunk", type=int, default=5_000_000, help="rows per INSERT … SELECT")
    parser.add_argument(
        "--rule",
        action="append",
        help="a cohort rule, repeatable (default: the product page's high-intent rules)",
    )
    parser.add_argument(
        "--data-dir",
        type=Path,
        help="a new or empty directory, kept afterwards (default: a temporary one, removed)",
    )
    args = parser.parse_args(argv)
    if min(args.events, args.people, args.repeat, args.chunk) < 1:
        parser.error("--events, --people, --repeat and --chunk must be positive")
    temporary = args.data_dir is None
    data_dir = Path(tempfile.mkdtemp(prefix="gurulu-bench-")) if temporary else args.data_dir
    if not temporary:
        if data_dir.exists() and any(data_dir.iterdir()):
            parser.error(f"--data-dir {data_dir} is not empty: the benchmark needs a fresh one")
        data_dir.mkdir(parents=True, exist_ok=True)
    try:
        run_bench(args, data_dir)
    finally:
        if temporary:
            shutil.rmtree(data_dir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
