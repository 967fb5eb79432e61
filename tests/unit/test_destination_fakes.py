"""The Meta fake holds syncs to Meta's session contract: a session starts at batch_seq 1,
goes on without gaps or repeats, and ends with exactly one batch flagged last; and a test
whose fake saw any violation fails."""

from __future__ import annotations

import httpx
import pytest

from gurulu.destinations.identifiers import sha256_hex
from tests.destinations.fakes import MetaFake


def _post(fake: MetaFake, seq: int, last: bool, session_id: int = 7, method: str = "POST") -> None:
    body = {
        "payload": {"schema": "EMAIL_SHA256", "data": [sha256_hex(f"{seq}@example.com")]},
        "session": {
            "session_id": session_id,
            "batch_seq": seq,
            "last_batch_flag": last,
            "estimated_num_total": 10,
        },
    }
    headers = {"Authorization": f"Bearer {fake.token}"}
    reply = httpx.request(method, f"{fake.url}/v21.0/2385/users", json=body, headers=headers)
    assert reply.status_code == 200, reply.text


def test_a_session_from_1_without_gaps_closed_once_is_fine():
    with MetaFake() as fake:
        _post(fake, 1, False)
        _post(fake, 2, True)
        _post(fake, 1, True, session_id=8)
        _post(fake, 1, True, method="DELETE")  # a remove session is a session of its own
    assert fake.violations == []


@pytest.mark.parametrize(
    ("sent", "violation"),
    [
        ([(2, True)], "batch_seq 2 after []"),
        ([(1, False), (3, True)], "batch_seq 3 after [1]"),
        ([(1, False), (1, True)], "batch_seq 1 after [1]"),
        ([(1, True), (2, True)], "closed=True"),
        ([(1, False), (2, False)], "never had a last_batch_flag"),
    ],
)
def test_a_broken_session_is_a_violation_that_fails_the_test(sent, violation):
    fake = MetaFake()
    with pytest.raises(AssertionError, match="contract violations"), fake:
        for seq, last in sent:
            _post(fake, seq, last)
    assert any(violation in v for v in fake.violations), fake.violations
