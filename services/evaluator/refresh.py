"""One refresh of an audience, with an exactly-once effect.

A refresh evaluates the source cohort's current definition and turns the audience's
members into exactly that set. It reads what it needs by key — the run and the audience's
other runs, the audience, its source cohort's definition — and writes in five steps, each
of which can be replayed:

1. the run record says `running`, with a new attempt number and its evaluation time;
2. the delta is staged in `audience_changes` under (run, attempt) — joined and left, in one
   `INSERT … SELECT` whose GROUP BY of the new set and the current members runs inside
   ClickHouse;
3. the run record says `staged`, with the counts: from here on this attempt's delta is the
   run's, whatever happens. An empty delta has nothing to apply: its run is recorded
   `succeeded` here, and the refresh ends;
4. the staged rows are written to `audience_members` with the run's version (joins as rows,
   leaves as tombstones); writing them again changes nothing;
5. the run record says `succeeded`.

A crash before 3 leaves rows nobody reads, and the next attempt stages afresh. A crash after
3 is finished by replaying 4 and 5 — by the same run, or by the next run of the audience,
which first completes any staged run it finds, so deltas are applied in order.

Step 1 is what keeps attempts apart, and it must be visible before the stage starts: an
evaluator that stalled and lost its lock may still have its staging statement running when
another takes the run over, and that one's rows land later. Deriving the attempt from the
rows already staged instead would let both stage under one number.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from gurulu.common.clickhouse import ClickHouse
from gurulu.common.clock import utcnow
from gurulu.common.errors import NotFound
from gurulu.common.evaluate import query_for
from gurulu.common.rules.compiler import CompileError
from gurulu.common.rules.model import Definition
from gurulu.common.store import runs
from gurulu.common.store.runs import Run

Checkpoint = Callable[[str], None]
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
Clock = Callable[[], datetime]

# The new set and the current members side by side, one GROUP BY per person: joined if
# only in the new set, left if only a member. A member is a person whose latest row (by
# version) is not a tombstone; reading every row and picking the latest spares a FINAL.
_STAGE = """
INSERT INTO audience_changes (workspace_id, audience_id, run_id, attempt, person_id, change, at)
SELECT {r_ws:String}, {r_aud:String}, {r_run:String}, {r_attempt:UInt32}, person_id,
       if(fresh, 'joined', 'left'), {r_at:DateTime64(6, 'UTC')}
FROM (
    SELECT person_id, max(source = 1) AS fresh,
           argMaxIf(is_deleted = 0, version, source = 2) AS member
    FROM (
        SELECT person_id, toUInt8(1) AS source, toUInt64(0) AS version, toUInt8(0) AS is_deleted
        FROM (__COHORT__)
        UNION ALL
        SELECT person_id, toUInt8(2), version, is_deleted FROM audience_members
        WHERE workspace_id = {r_ws:String} AND audience_id = {r_aud:String}
    )
    GROUP BY person_id
    HAVING fresh != member
)
"""

_COUNTS = """
SELECT countIf(change = 'joined'), countIf(change = 'left') FROM audience_changes FINAL
WHERE workspace_id = {ws:String} AND audience_id = {aud:String}
  AND run_id = {run:String} AND attempt = {attempt:UInt32}
"""

_APPLY = """
INSERT INTO audience_members
    (workspace_id, audience_id, person_id, joined_at, run_id, version, is_deleted)
SELECT workspace_id, audience_id, person_id, at, run_id, {version:UInt64}, change = 'left'
FROM audience_changes FINAL
WHERE workspace_id = {ws:String} AND audience_id = {aud:String}
  AND run_id = {run:String} AND attempt = {attempt:UInt32}
"""


_AUDIENCE = """
SELECT status, source_cohort_id FROM audiences FINAL
WHERE workspace_id = {ws:String} AND audience_id = {aud:String}
"""

_DEFINITION = """
SELECT definition FROM cohorts FINAL
WHERE workspace_id = {ws:String} AND cohort_id = {cohort:String}
"""


class Refusal(Exception):
    """A refresh that cannot run, whatever is retried (its audience or cohort is gone)."""


def _no_checkpoint(step: str) -> None:
    return None


def _no_report(run: Run) -> None:
    return None


def refresh(
    db: ClickHouse,
    workspace_id: str,
    audience_id: str,
    run_id: str,
    *,
    clock: Clock = utcnow,
    checkpoint: Checkpoint = _no_checkpoint,
    completed: Callable[[Run], None] = _no_report,
) -> Run:
    """Carry out run `run_id` of the audience; return the run as recorded at the end.
    `completed` hears of each earlier run this one finished on its way (a staged run whose
    evaluator died), so that it can be announced too.

    Transient store errors propagate (the caller retries the same run); a refresh that can
    never succeed is recorded as failed and returned."""
    found = runs.situation(db, workspace_id, audience_id, run_id)
    run = found.run
    if run is None:
        raise NotFound(f"run {run_id} of audience {audience_id} does not exist")
    if run.status == "succeeded" or (run.status == "failed" and not run.staged):
        return run
    latest = (found.latest_evaluated_at, found.latest_member_count)
    for earlier in found.unfinished:
        finished = _apply(db, earlier, clock, checkpoint)
        completed(finished)
        latest = (finished.evaluated_at, finished.member_count)
    if not run.staged:
        try:
            run = _stage(db, run, _source(db, run), latest, clock, checkpoint)
        except Refusal as refusal:
            return fail(db, run, str(refusal), clock)
        if run.status == "succeeded":
            return run
    return _apply(db, run, clock, checkpoint)


def fail(db: ClickHouse, run: Run, error: str, clock: Clock = utcnow) -> Run:
    """Record that `run` failed. A run that already staged its delta is not failed: its
    delta is the audience's, and the next refresh completes it."""
    current = runs.get(db, run.workspace_id, run.audience_id, run.run_id) or run
    if current.staged or current.status == "succeeded":
        return current
    failed = current.but(status="failed", error=error[:2000], finished_at=clock())
    runs.save(db, failed)
    return failed


def _stage(
    db: ClickHouse,
    run: Run,
    source: tuple[str, Definition],
    latest: tuple[datetime | None, int],
    clock: Clock,
    checkpoint: Checkpoint,
) -> Run:
    """Steps 1 to 3. `latest` is the evaluation time and member count of the audience's
    latest run that committed to a delta (all of them are applied by now): the new delta
    counts from that member count, and the new evaluation time comes strictly after it."""
    cohort_id, definition = source
    latest_at, latest_members = latest
    started = run.started_at or clock()
    at = clock()
    if latest_at is not None and at <= latest_at:
        at = latest_at + timedelta(microseconds=1)
    run = run.but(
        status="running",
        attempt=run.attempt + 1,
        started_at=started,
        evaluated_at=at,
        definition=definition.model_dump_json(),
        error="",
    )
    runs.save(db, run)
    checkpoint("running")
    try:
        query = query_for(db, run.workspace_id, definition, at, cohort_id, distinct=False)
    except CompileError as error:
        raise Refusal(str(error)) from error
    keys = {"r_ws": run.workspace_id, "r_aud": run.audience_id, "r_run": run.run_id}
    stats = db.command(
        _STAGE.replace("__COHORT__", query.sql),
        query.params | keys | {"r_attempt": run.attempt, "r_at": at},
    )
    checkpoint("changes")
    # An attempt stages into rows of its own, so a statement that wrote nothing staged an
    # empty delta: the steady state of an hourly refresh, spared a read.
    joined, left = (0, 0) if stats.written_rows == 0 else db.rows(_COUNTS, _keys(run))[0]
    run = run.but(
        staged=True,
        joined_count=joined,
        left_count=left,
        member_count=latest_members + joined - left,
        rows_read=stats.read_rows,
    )
    if joined == left == 0:
        run = run.but(status="succeeded", finished_at=clock())
    runs.save(db, run)
    checkpoint("staged")
    return run


def _apply(db: ClickHouse, run: Run, clock: Clock, checkpoint: Checkpoint) -> Run:
    assert run.staged and run.evaluated_at is not None
    db.command(_APPLY, _keys(run) | {"version": _version(run.evaluated_at)})
    checkpoint("members")
    done = run.but(status="succeeded", finished_at=clock(), error="")
    runs.save(db, done)
    checkpoint("succeeded")
    return done


def _source(db: ClickHouse, run: Run) -> tuple[str, Definition]:
    """The audience's source cohort and its current definition, if it may refresh. (Two
    reads by key cost ClickHouse less than one join.)"""
    keys = {"ws": run.workspace_id, "aud": run.audience_id}
    audience = db.rows(_AUDIENCE, keys)
    status, cohort_id = audience[0] if audience else ("archived", "")
    if status == "archived":
        raise Refusal("the audience was archived before this refresh ran")
    if status != "active":
        raise Refusal(f"the audience was {status} before this refresh ran")
    definition = db.scalar(_DEFINITION, {"ws": run.workspace_id, "cohort": cohort_id})
    if not definition:
        raise Refusal("the audience's source cohort no longer exists")
    return cohort_id, Definition.model_validate_json(definition)


def _version(evaluated_at: datetime) -> int:
    return (evaluated_at - _EPOCH) // timedelta(microseconds=1)


def _keys(run: Run) -> dict[str, object]:
    return {
        "ws": run.workspace_id,
        "aud": run.audience_id,
        "run": run.run_id,
        "attempt": run.attempt,
    }
