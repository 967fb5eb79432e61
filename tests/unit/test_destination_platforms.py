"""How platform answers are classified: what is retried, what pauses a destination, and
that no error text ever quotes a credential."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx
import pytest

from gurulu.destinations.platforms import build
from gurulu.destinations.platforms.base import Answer, Batch, Permanent, Row, Transient, retry_after
from gurulu.destinations.platforms.meta import _answer, _failure
from gurulu.destinations.platforms.webhook import _classify


def meta_error(status: int, code: object, subcode: object = None) -> httpx.Response:
    error = {"message": "m", "code": code, "error_subcode": subcode}
    return httpx.Response(status, json={"error": error}, headers={"retry-after": "7"})


@pytest.mark.parametrize(
    ("status", "code", "subcode", "kind", "pause"),
    [
        (400, 17, 2446079, Transient, None),
        (400, 613, 1487742, Transient, None),
        (500, 2, None, Transient, None),
        (400, 80003, None, Transient, None),
        (503, None, None, Transient, None),
        (400, 190, None, Permanent, True),
        (403, 200, None, Permanent, True),
        (400, 100, None, Permanent, False),
        (400, 105, None, Permanent, False),
        # Meta's audience codes arrive as codes or as subcodes of a generic one.
        (400, 1487301, None, Permanent, True),
        (400, 100, 1487301, Permanent, True),
        (400, 100, 1487366, Permanent, True),
        (400, 2650, 1487366, Permanent, True),
        (500, 1, 1487301, Permanent, True),
        (400, "100", "1487366", Permanent, True),
        (400, 100, 33, Permanent, False),
    ],
)
def test_meta_errors_follow_metas_retry_list(status, code, subcode, kind, pause):
    failure = _failure(meta_error(status, code, subcode))
    assert isinstance(failure, kind)
    if isinstance(failure, Permanent):
        assert failure.pause is pause
    else:
        assert failure.retry_after == 7.0


@pytest.mark.parametrize(
    ("status", "kind", "pause"),
    [(410, Permanent, True), (401, Permanent, True), (400, Permanent, False),
     (408, Transient, None), (429, Transient, None), (502, Transient, None)],
)  # fmt: skip
def test_webhook_answers(status, kind, pause):
    with pytest.raises(kind) as raised:
        _classify(httpx.Response(status))
    if kind is Permanent:
        assert raised.value.pause is pause


def test_retry_after_reads_seconds_and_dates():
    assert retry_after(httpx.Response(429, headers={"retry-after": "3"})) == 3.0
    date = httpx.Response(429, headers={"retry-after": "Wed, 21 Oct 2015 07:28:00 GMT"})
    assert retry_after(date) == 0.0
    assert retry_after(httpx.Response(429)) is None


def test_a_stored_configuration_that_no_longer_validates_never_quotes_its_secrets():
    token = "EAAB-secret-token-that-must-not-leak"
    with pytest.raises(Permanent) as raised:
        build("meta_custom_audience", {"audience_id": "x1"}, {"access_token": token}, None)  # type: ignore[arg-type]
    assert raised.value.pause and "audience_id" in str(raised.value)
    assert token not in str(raised.value)


def _meta_batch() -> Batch:
    rows = (Row("ana", "a" * 64), Row("bob", "", "b" * 64), Row("cem", "c" * 64, "d" * 64))
    at = datetime(2026, 6, 15, tzinfo=UTC)
    return Batch("aud", "run", "syn", "add", 1, True, 3, at, rows)


@pytest.mark.parametrize(
    ("body", "answer"),
    [
        ({"num_invalid_entries": 0}, Answer()),
        ({"num_invalid_entries": 2, "invalid_entry_samples": {}}, Answer({}, 2)),
        ({"num_invalid_entries": "2"}, Answer({}, 2)),
        ({"num_invalid_entries": "many"}, Answer()),
        (
            {"num_invalid_entries": 3, "invalid_entry_samples": {"b" * 64: "bad"}},
            Answer({"bob": "Meta: invalid entry: bad"}, 2),
        ),
        (
            {"num_invalid_entries": 1, "invalid_entry_samples": [["c" * 64, "d" * 64]]},
            Answer({"cem": "Meta: invalid entry"}, 0),
        ),
        (
            {"num_invalid_entries": 1, "invalid_entry_samples": [f'["{"a" * 64}",""]']},
            Answer({"ana": "Meta: invalid entry"}, 0),
        ),
    ],
)
def test_meta_answers_name_the_rejected_people_and_count_the_rest(body, answer):
    assert _answer(_meta_batch(), body) == answer
