"""The HTTP contract against a running system: quota under concurrency, tenancy on every
route, and bad input of every kind answered with a clear 4xx that changes nothing."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from urllib.parse import quote

import httpx
import pytest

from gurulu.api.openapi import ErrorBody
from tests.e2e.test_smoke import wait_for

ROUTES = [
    ("GET", "/v1/cohorts/{cohort}", None),
    ("PATCH", "/v1/cohorts/{cohort}", {"name": "renamed"}),
    ("DELETE", "/v1/cohorts/{cohort}", None),
    ("GET", "/v1/audiences/{audience}", None),
    ("PATCH", "/v1/audiences/{audience}", {"status": "paused"}),
    ("DELETE", "/v1/audiences/{audience}", None),
    ("POST", "/v1/audiences/{audience}/refresh", None),
    ("GET", "/v1/audiences/{audience}/runs", None),
    ("GET", "/v1/audiences/{audience}/changes", None),
    ("GET", "/v1/audiences/{audience}/export.csv", None),
]
WORKSPACE_ROUTES = [
    ("POST", "/v1/events", {"events": [{"event": "x", "person_id": "p"}]}),
    ("POST", "/v1/persons", {"persons": [{"person_id": "p"}]}),
    ("POST", "/v1/cohorts", {"name": "c", "rules": ["event:x"]}),
    ("POST", "/v1/cohorts/preview", {"rules": ["event:x"]}),
    ("GET", "/v1/cohorts", None),
    ("POST", "/v1/audiences", {"name": "a", "source_cohort_id": "c"}),
    ("GET", "/v1/audiences", None),
    ("GET", "/v1/quota", None),
    *ROUTES,
]


def cohort_and_audience(api: httpx.Client, name: str = "carted") -> tuple[dict, dict]:
    api.post("/v1/events", json={"events": [{"event": "add_to_cart", "person_id": "ana"}]})
    cohort = api.post("/v1/cohorts", json={"name": name, "rules": ["event:add_to_cart"]})
    assert cohort.status_code == 201, cohort.text
    audience = api.post("/v1/audiences", json={"name": name, "source_cohort_id": name})
    assert audience.status_code == 201, audience.text
    return cohort.json(), audience.json()


def test_sixteen_concurrent_creates_on_the_free_plan_make_exactly_three(system):
    _, key = system.workspace(plan="free")
    with system.client(key) as api:
        api.post("/v1/cohorts", json={"name": "all", "rules": ["not event:nothing"]})

        def create(i: int) -> httpx.Response:
            with system.client(key) as own:
                return own.post("/v1/audiences", json={"name": f"a{i}", "source_cohort_id": "all"})

        with ThreadPoolExecutor(16) as pool:
            answers = list(pool.map(create, range(16)))
        assert sorted(r.status_code for r in answers) == [201] * 3 + [402] * 13
        refused = next(r.json()["error"] for r in answers if r.status_code == 402)
        assert refused["code"] == "quota_exceeded"
        assert (refused["dimension"], refused["limit"], refused["plan"]) == ("audiences", 3, "free")
        assert api.get("/v1/quota").json() == {
            "plan": "free",
            "dimensions": {"audiences": {"used": 3, "limit": 3}},
        }
        assert len(api.get("/v1/audiences").json()["data"]) == 3


def test_at_the_limit_resume_is_refused_existing_ones_keep_running_and_archive_frees_a_slot(
    system,
):
    _, key = system.workspace(plan="free")
    with system.client(key) as api:
        api.post("/v1/cohorts", json={"name": "all", "rules": ["not event:nothing"]})
        made = [
            api.post("/v1/audiences", json={"name": f"a{i}", "source_cohort_id": "all"}).json()
            for i in range(3)
        ]
        paused = api.patch(f"/v1/audiences/{made[0]['id']}", json={"status": "paused"})
        assert paused.json()["status"] == "paused"
        assert api.post("/v1/audiences", json={"name": "a3", "source_cohort_id": "all"}).is_success
        resumed = api.patch(f"/v1/audiences/{made[0]['id']}", json={"status": "active"})
        assert resumed.status_code == 402
        assert api.get(f"/v1/audiences/{made[0]['id']}").json()["status"] == "paused"
        assert api.post(f"/v1/audiences/{made[1]['id']}/refresh").status_code == 202
        assert api.delete(f"/v1/audiences/{made[1]['id']}").status_code == 204
        again = api.patch(f"/v1/audiences/{made[0]['id']}", json={"status": "active"})
        assert again.status_code == 200 and again.json()["status"] == "active"


def test_a_plan_downgrade_below_the_audiences_running_says_so_and_stops_none(system):
    workspace_id, key = system.workspace(plan="custom")
    with system.client(key) as api:
        api.post("/v1/cohorts", json={"name": "all", "rules": ["not event:nothing"]})
        for i in range(4):
            api.post("/v1/audiences", json={"name": f"a{i}", "source_cohort_id": "all"})
    with system.admin() as admin:
        changed = admin.patch(f"/v1/admin/workspaces/{workspace_id}", json={"plan": "free"})
    assert (changed.json()["active_audiences"], changed.json()["audience_limit"]) == (4, 3)
    with system.client(key) as api:
        listed = api.get("/v1/audiences").json()["data"]
        assert [a["status"] for a in listed] == ["active"] * 4
        refused = api.post("/v1/audiences", json={"name": "a4", "source_cohort_id": "all"})
        assert refused.status_code == 402 and refused.json()["error"]["used"] == 4


def test_a_plan_upgrade_lifts_the_limit(system):
    workspace_id, key = system.workspace(plan="free")
    with system.admin() as admin:
        changed = admin.patch(f"/v1/admin/workspaces/{workspace_id}", json={"plan": "custom"})
        assert changed.json()["plan"] == "custom"
    with system.client(key) as api:
        assert api.get("/v1/quota").json()["dimensions"]["audiences"]["limit"] is None


def test_every_route_answers_404_for_another_workspaces_ids(system):
    _, key_a = system.workspace()
    _, key_b = system.workspace()
    with system.client(key_a) as a, system.client(key_b) as b:
        cohort, audience = cohort_and_audience(a)
        ids = {"cohort": cohort["id"], "audience": audience["id"]}
        for method, path, body in ROUTES:
            answer = b.request(method, path.format(**ids), json=body)
            assert answer.status_code == 404, (method, path, answer.text)
            assert answer.json()["error"]["code"] == "not_found"
        stolen = b.post("/v1/audiences", json={"name": "x", "source_cohort_id": cohort["id"]})
        assert stolen.status_code == 404
        assert b.get("/v1/cohorts/carted").status_code == 404
        # ...and nothing of a's changed.
        assert a.get(f"/v1/cohorts/{cohort['id']}").json()["name"] == "carted"
        assert a.get(f"/v1/audiences/{audience['id']}").json()["status"] == "active"


def test_no_key_or_a_wrong_key_answers_401_and_workspace_keys_are_not_admin(system):
    _, key = system.workspace()
    anonymous = httpx.Client(base_url=system.url)
    wrong = httpx.Client(base_url=system.url, headers={"Authorization": "Bearer gsk_0_nope"})
    with anonymous, wrong, system.client(key) as api:
        ids = {"cohort": "coh_x", "audience": "aud_x"}
        for method, path, body in WORKSPACE_ROUTES:
            for client in (anonymous, wrong):
                answer = client.request(method, path.format(**ids), json=body)
                assert answer.status_code == 401, (method, path)
                assert answer.json()["error"]["code"] == "unauthorized"
        for method, path, body in [
            ("POST", "/v1/admin/workspaces", {"name": "x", "plan": "free"}),
            ("PATCH", "/v1/admin/workspaces/ws_x", {"plan": "custom"}),
        ]:
            assert api.request(method, path, json=body).status_code == 401


def _nested(depth: int) -> list:
    value: list = []
    for _ in range(depth - 1):
        value = [value]
    return value


BAD_BODIES = [
    ("POST", "/v1/events", b'{"events": [', "body"),
    ("POST", "/v1/events", {"events": "nope"}, "events"),
    ("POST", "/v1/events", {"events": []}, "events"),
    ("POST", "/v1/events", {"events": [{"event": "x", "person_id": "p", "colour": 1}]}, "colour"),
    ("POST", "/v1/events", {"events": [{"event": "x", "person_id": 5}]}, "person_id"),
    (
        "POST",
        "/v1/events",
        {"events": [{"event": "x", "person_id": "p", "timestamp": "soon"}]},
        "timestamp",
    ),
    (
        "POST",
        "/v1/events",
        {"events": [{"event": "x", "person_id": "p", "timestamp": "2026-01-01T00:00:00"}]},
        "timestamp",
    ),
    (
        "POST",
        "/v1/events",
        {"events": [{"event": "x", "person_id": "p", "timestamp": "1970-01-01T00:00:00Z"}]},
        "timestamp",
    ),
    ("POST", "/v1/events", {"events": [{"event": "", "person_id": "p"}]}, "event"),
    ("POST", "/v1/persons", {"persons": [{"person_id": "p", "properties": []}]}, "properties"),
    (
        "POST",
        "/v1/events",
        {"events": [{"event": "x", "person_id": "p", "properties": {"n": 2**64}}]},
        "properties",
    ),
    (
        "POST",
        "/v1/persons",
        {"persons": [{"person_id": "p", "properties": {"n": -(2**63) - 1}}]},
        "properties",
    ),
    (
        "POST",
        "/v1/persons",
        {"persons": [{"person_id": "p", "properties": {"deep": _nested(300)}}]},
        "properties",
    ),
    (
        "POST",
        "/v1/events",
        b'{"events": [{"event": "x", "person_id": "p", "properties": {"v": NaN}}]}',
        "properties",
    ),
    (
        "POST",
        "/v1/persons",
        b'{"persons": [{"person_id": "p", "properties": {"v": -Infinity}}]}',
        "properties",
    ),
    ("POST", "/v1/cohorts/preview", {"rules": ["event:x in last 99999w"]}, "rules"),
    (
        "POST",
        "/v1/cohorts",
        {"name": "c", "rules": [{"type": "event", "event": "x", "within": "999999d"}]},
        "rules",
    ),
    ("POST", "/v1/cohorts", {"name": "c", "rules": ["event:x in last 7x"]}, "rules"),
    ("POST", "/v1/cohorts", {"name": "c", "rules": ["evnt:x"]}, "rules"),
    ("POST", "/v1/cohorts", {"name": "c", "rules": [{"type": "event"}]}, "rules"),
    ("POST", "/v1/cohorts", {"name": "c", "rules": ["cohort:missing"]}, "rules.0"),
    ("POST", "/v1/cohorts", {"name": "c", "rules": []}, "rules"),
    ("POST", "/v1/cohorts", {"name": "c", "rules": ["event:x"], "match": "most"}, "match"),
    ("POST", "/v1/cohorts", {"name": "", "rules": ["event:x"]}, "name"),
    ("POST", "/v1/cohorts/preview", {"rules": ["person:x >"]}, "rules"),
    ("POST", "/v1/audiences", {"name": "a", "source_cohort_id": "c", "sync": "daily"}, "sync"),
    ("POST", "/v1/audiences", {"name": "a"}, "source_cohort_id"),
    ("PATCH", "/v1/audiences/{audience}", {"status": "archived"}, "status"),
    ("PATCH", "/v1/audiences/{audience}", {"name": 3}, "name"),
    ("GET", "/v1/audiences?status=deleted", None, "status"),
    ("GET", "/v1/audiences/{audience}/runs?limit=0", None, "limit"),
    # Valid JSON, but not Unicode text: a lone surrogate escape, anywhere in the body.
    (
        "POST",
        "/v1/persons",
        b'{"persons": [{"person_id": "ghost1", "properties": {"k": "\\ud800"}},'
        b' {"person_id": "ghost2", "properties": {"ok": "v"}}]}',
        "persons.0.properties.k",
    ),
    (
        "POST",
        "/v1/events",
        b'{"events": [{"event": "x", "person_id": "p"},'
        b' {"event": "x", "person_id": "q", "properties": {"\\udc00": 1}}]}',
        "events.1.properties",
    ),
    ("POST", "/v1/cohorts/preview", b'{"rules": ["person:a = \\ud800"]}', "rules.0"),
    (
        "POST",
        "/v1/cohorts",
        b'{"name": "c", "rules": [{"type": "person", "property": "a", "operator": "=",'
        b' "value": "x\\udfffy"}]}',
        "rules.0.value",
    ),
    ("POST", "/v1/cohorts", b'{"name": "c", "rules": [{"type": "\\ud800"}]}', "rules.0.type"),
    ("PATCH", "/v1/cohorts/carted", b'{"rules": ["event:\\ud83d"]}', "rules.0"),
    ("PATCH", "/v1/audiences/{audience}", b'{"name": "\\ud800"}', "name"),
    # JSON that Python cannot read: a number of 5,000 digits, nesting 5,000 deep.
    (
        "POST",
        "/v1/persons",
        b'{"persons": [{"person_id": "p", "properties": {"n": ' + b"9" * 5000 + b"}}]}",
        "body",
    ),
    ("POST", "/v1/events", b'{"events": ' + b"[" * 5000 + b"]" * 5000 + b"}", "body"),
]


@pytest.mark.parametrize("method,path,body,field", BAD_BODIES, ids=range(len(BAD_BODIES)))
def test_bad_input_gets_a_clear_4xx_naming_the_field_and_stores_nothing(
    api, method, path, body, field
):
    cohort, audience = cohort_and_audience(api)
    before = snapshot(api, audience["id"])
    url = path.format(audience=audience["id"])
    if isinstance(body, bytes):
        answer = api.request(
            method, url, content=body, headers={"content-type": "application/json"}
        )
    else:
        answer = api.request(method, url, json=body)
    assert answer.status_code == 422, answer.text
    error = answer.json()["error"]
    assert error["code"] == "invalid_request" and error["message"]
    assert field in error["field"], error
    # one shape for every 422: the first problem, then all of them, in people's words
    assert error["errors"][0]["field"] == error["field"], error
    assert all(p["message"] and "Value error" not in p["message"] for p in error["errors"])
    assert snapshot(api, audience["id"]) == before


def test_a_destination_configuration_is_refused_with_every_problem_it_has(api):
    _, audience = cohort_and_audience(api)
    answer = api.post(
        f"/v1/audiences/{audience['id']}/destinations",
        json={"type": "meta_custom_audience", "config": {"audience_id": "x"}},
    )
    assert answer.status_code == 422, answer.text
    error = answer.json()["error"]
    fields = {p["field"] for p in error["errors"]}
    assert fields == {"config.audience_id", "config.access_token"}, error
    assert error["field"] in fields
    assert api.get(f"/v1/audiences/{audience['id']}/destinations").json()["data"] == []


def snapshot(api: httpx.Client, audience_id: str) -> tuple:
    preview = api.post("/v1/cohorts/preview", json={"rules": ["event:x"]}).json()["count"]
    known = api.post("/v1/cohorts/preview", json={"rules": ["not event:x"]}).json()["count"]
    cohorts = api.get("/v1/cohorts").json()["data"]
    audience = api.get(f"/v1/audiences/{audience_id}").json()
    return (
        preview,
        known,
        [(c["name"], c["rules"]) for c in cohorts],
        (audience["name"], audience["status"]),
        len(api.get("/v1/audiences").json()["data"]),
    )


@pytest.mark.parametrize(
    "headers,said",
    [
        ({"content-type": "text/plain"}, "must be JSON, sent as application/json"),
        ({"content-type": "application/x-ndjson"}, "must be JSON"),
        ({"content-type": "application/x-www-form-urlencoded"}, "must be JSON"),
        ({"content-type": "application/json", "content-encoding": "gzip"}, "not be compressed"),
    ],
    ids=["text", "ndjson", "form", "gzip"],
)
def test_a_body_that_is_not_json_is_415_saying_how_to_send_it(api, headers, said):
    before = api.post("/v1/cohorts/preview", json={"rules": ["not event:x"]}).json()["count"]
    body = b'{"events": [{"event": "x", "person_id": "p415"}]}'
    answer = api.post("/v1/events", content=body, headers=headers)
    assert answer.status_code == 415, answer.text
    error = answer.json()["error"]
    assert error["code"] == "unsupported_media_type" and said in error["message"]
    after = api.post("/v1/cohorts/preview", json={"rules": ["not event:x"]}).json()["count"]
    assert after == before


def test_a_batch_of_events_sent_again_with_its_idempotency_key_is_stored_once(system, api):
    batch = {"events": [{"event": "retried", "person_id": "ana"}]}  # no timestamp: "now"
    first = api.post("/v1/events", json=batch, headers={"Idempotency-Key": "batch-1"})
    again = api.post("/v1/events", json=batch, headers={"Idempotency-Key": "batch-1"})
    assert first.json() == again.json() == {"accepted": 1}

    def counted(rule: str) -> int:
        return api.post("/v1/cohorts/preview", json={"rules": [rule]}).json()["count"]

    assert (counted("event:retried"), counted("event:retried count >= 2")) == (1, 0)
    api.post("/v1/events", json=batch, headers={"Idempotency-Key": "batch-2"})
    api.post("/v1/events", json=batch)  # no key: stored each time
    assert counted("event:retried count = 3") == 1
    # the key is the workspace's own: another workspace's batch with it is stored
    _, other = system.workspace()
    with system.client(other) as theirs:
        theirs.post("/v1/events", json=batch, headers={"Idempotency-Key": "batch-1"})
        preview = theirs.post("/v1/cohorts/preview", json={"rules": ["event:retried"]})
        assert preview.json()["count"] == 1
    for bad in ("with space", "x" * 201, "ünicode"):
        refused = api.post("/v1/events", json=batch, headers={"Idempotency-Key": bad.encode()})
        assert refused.status_code == 422, refused.text
        assert refused.json()["error"]["field"] == "Idempotency-Key"
    assert counted("event:retried count = 3") == 1


def test_a_lone_surrogate_sent_without_a_content_type_is_refused_too(api):
    before = api.post("/v1/cohorts/preview", json={"rules": ["not event:x"]}).json()["count"]
    body = b'{"persons": [{"person_id": "ghost", "properties": {"k": "\\ud800"}}]}'
    answer = api.post("/v1/persons", content=body, headers={"content-type": ""})
    assert answer.status_code == 422, answer.text
    assert answer.json()["error"]["field"] == "persons.0.properties.k"
    after = api.post("/v1/cohorts/preview", json={"rules": ["not event:x"]}).json()["count"]
    assert after == before


def test_an_events_batch_with_one_bad_item_stores_none_of_it(api):
    good = [{"event": "signup", "person_id": f"p{i}"} for i in range(50)]
    bad = [*good, {"event": "signup", "person_id": "p", "timestamp": "yesterday"}]
    answer = api.post("/v1/events", json={"events": bad})
    assert answer.status_code == 422
    assert answer.json()["error"]["field"].startswith("events.50")
    assert api.post("/v1/cohorts/preview", json={"rules": ["event:signup"]}).json()["count"] == 0


def test_a_huge_body_is_refused_before_it_is_read(api):
    huge = b'{"events": [' + b'{"event": "x", "person_id": "p"},' * 300_000 + b"{}]}"
    answer = api.post("/v1/events", content=huge, headers={"content-type": "application/json"})
    assert answer.status_code == 413
    assert answer.json()["error"]["code"] == "payload_too_large"
    too_many = {"events": [{"event": "x", "person_id": "p"}] * 10_001}
    assert api.post("/v1/events", json=too_many).status_code == 422


def test_a_huge_body_sent_in_chunks_is_refused_as_too_large(api):
    def chunks():
        yield b'{"events": ['
        for _ in range(300_000):
            yield b'{"event": "x", "person_id": "p"},'
        yield b"{}]}"

    answer = api.post("/v1/events", content=chunks(), headers={"content-type": "application/json"})
    assert answer.status_code == 413, answer.text
    assert answer.json()["error"]["code"] == "payload_too_large"
    assert answer.headers["x-request-id"]


def test_a_made_up_method_does_not_make_a_metric_series_of_its_own(system, api):
    for verb in ("BREW", "PROPFIND", "X-NEW"):
        assert api.request(verb, "/v1/quota").status_code in (404, 405)
    metrics = httpx.get(f"{system.url}/metrics").text
    assert 'method="BREW"' not in metrics and 'method="other"' in metrics


def test_conflicts_are_409_with_a_reason(api):
    cohort, audience = cohort_and_audience(api)
    again = api.post("/v1/cohorts", json={"name": "carted", "rules": ["event:x"]})
    assert again.status_code == 409
    in_use = api.delete(f"/v1/cohorts/{cohort['id']}")
    assert in_use.status_code == 409 and in_use.json()["error"]["audiences"] == ["carted"]
    assert in_use.json()["error"]["audience_ids"] == [audience["id"]]
    api.patch(f"/v1/audiences/{audience['id']}", json={"status": "paused"})
    assert api.post(f"/v1/audiences/{audience['id']}/refresh").status_code == 409
    built_on = api.post("/v1/cohorts", json={"name": "on it", "rules": ["cohort:carted"]}).json()
    api.delete(f"/v1/audiences/{audience['id']}").raise_for_status()
    in_use = api.delete(f"/v1/cohorts/{cohort['id']}").json()["error"]
    assert (in_use["cohorts"], in_use["cohort_ids"]) == (["on it"], [built_on["id"]])


def test_two_audiences_that_are_not_archived_never_share_a_name(api):
    _, first = cohort_and_audience(api)
    again = api.post("/v1/audiences", json={"name": " CARTED ", "source_cohort_id": "carted"})
    assert again.status_code == 409 and again.json()["error"]["field"] == "name"
    other = api.post("/v1/audiences", json={"name": "Other", "source_cohort_id": "carted"})
    assert other.status_code == 201
    renamed = api.patch(f"/v1/audiences/{other.json()['id']}", json={"name": "Carted"})
    assert renamed.status_code == 409
    assert api.get(f"/v1/audiences/{other.json()['id']}").json()["name"] == "Other"
    # its own name, in another case, is no conflict; an archived audience frees its name
    assert api.patch(f"/v1/audiences/{first['id']}", json={"name": "CARTED"}).status_code == 200
    assert api.delete(f"/v1/audiences/{first['id']}").status_code == 204
    assert api.patch(
        f"/v1/audiences/{other.json()['id']}", json={"name": "carted"}
    ).status_code == (200)


def test_the_export_is_named_after_the_audience(api):
    api.post("/v1/events", json={"events": [{"event": "add_to_cart", "person_id": "ana"}]})
    api.post("/v1/cohorts", json={"name": "c", "rules": ["event:add_to_cart"]})
    made = api.post(
        "/v1/audiences", json={"name": "Yüksek niyetli ziyaretçiler", "source_cohort_id": "c"}
    ).json()
    answer = api.get(f"/v1/audiences/{made['id']}/export.csv")
    assert answer.headers["content-disposition"] == (
        f'attachment; filename="yuksek-niyetli-ziyaretciler-{made["id"]}.csv"'
    )


def test_renaming_a_cohort_to_its_own_name_with_spaces_around_it_is_no_conflict(api):
    cohort_and_audience(api)
    answer = api.patch("/v1/cohorts/carted", json={"name": "  carted  "})
    assert answer.status_code == 200, answer.text
    assert answer.json()["name"] == "carted"


# Not one line of text: blank, a NUL, a line break, a tab, a terminal escape, a line
# separator, a C1 control (NEL) inside the name, one character too many.
NOT_ONE_LINE = [
    "   ", "x\u0000y", "two\nlines", "tab\there", "\x1b[31mred", "a\u2028b", "a\x85b", "x" * 201,
]  # fmt: skip


@pytest.mark.parametrize("name", NOT_ONE_LINE)
def test_every_name_is_one_line_of_text_and_a_refused_one_changes_nothing(system, name):
    """Workspaces, cohorts, audiences and destinations: one rule for the names lists,
    headings and terminals show, on create and on rename."""
    with system.admin() as admin:
        answer = admin.post("/v1/admin/workspaces", json={"name": name, "plan": "free"})
    assert answer.status_code == 422, answer.text
    assert answer.json()["error"]["field"] == "name"

    _, key = system.workspace()
    with system.client(key) as api:
        api.post("/v1/cohorts", json={"name": "c", "rules": ["event:x"]}).raise_for_status()
        made = api.post("/v1/audiences", json={"name": "a", "source_cohort_id": "c"}).json()
        webhook = {"url": "https://example.com/hook", "secret": "whsec_" + "k" * 32}
        refused = [
            api.post("/v1/cohorts", json={"name": name, "rules": ["event:x"]}),
            api.patch("/v1/cohorts/c", json={"name": name}),
            api.post("/v1/audiences", json={"name": name, "source_cohort_id": "c"}),
            api.patch(f"/v1/audiences/{made['id']}", json={"name": name}),
            api.post(
                f"/v1/audiences/{made['id']}/destinations",
                json={"type": "webhook", "name": name, "config": webhook},
            ),
        ]
        for answer in refused:
            assert answer.status_code == 422, (answer.request.url, answer.text)
            assert answer.json()["error"]["field"].endswith("name"), answer.text
        assert [c["name"] for c in api.get("/v1/cohorts").json()["data"]] == ["c"]
        assert [a["name"] for a in api.get("/v1/audiences").json()["data"]] == ["a"]
        assert api.get(f"/v1/audiences/{made['id']}/destinations").json()["data"] == []


def test_a_preview_notices_an_event_name_that_was_never_seen(api):
    api.post("/v1/events", json={"events": [{"event": "purchase", "person_id": "ana"}]})
    answer = api.post("/v1/cohorts/preview", json={"rules": ["event:purchse in last 7d"]})
    assert answer.status_code == 200
    assert answer.json()["count"] == 0
    [notice] = answer.json()["notices"]
    assert (notice["rule"], notice["did_you_mean"]) == (0, "purchase")
    seen = api.post("/v1/cohorts/preview", json={"rules": ["event:purchase"]}).json()
    assert (seen["count"], seen["notices"]) == (1, [])


def test_runs_come_a_page_at_a_time(api):
    _, audience = cohort_and_audience(api)
    path = f"/v1/audiences/{audience['id']}/runs"
    wait_for(lambda: api.get(path).json()["data"][0]["status"] == "succeeded")
    asked = api.post(f"/v1/audiences/{audience['id']}/refresh").json()["run_id"]
    wait_for(lambda: api.get(path).json()["data"][0]["status"] == "succeeded")
    first = api.get(path, params={"limit": 1}).json()
    assert [r["run_id"] for r in first["data"]] == [asked] and first["next_before"] == asked
    rest = api.get(path, params={"limit": 1, "before": asked}).json()
    assert [r["reason"] for r in rest["data"]] == ["created"]
    last = api.get(path, params={"limit": 1, "before": rest["next_before"]}).json()
    assert last == {"data": [], "next_before": None}
    assert api.get(path).json()["next_before"] is None  # a page not full is the last
    unknown = api.get(path, params={"before": "run_unknown"})
    assert unknown.status_code == 422 and unknown.json()["error"]["field"] == "before"


def test_runs_and_changes_describe_the_refreshes(api):
    _, audience = cohort_and_audience(api)
    runs = wait_for(
        lambda: (
            (r := api.get(f"/v1/audiences/{audience['id']}/runs").json()["data"])
            and r[0]["status"] == "succeeded"
            and r
        )
    )
    assert runs[0]["reason"] == "created" and runs[0]["joined_count"] == 1
    changes = wait_for(lambda: api.get(f"/v1/audiences/{audience['id']}/changes").json()["data"])
    assert changes[0]["net_change"] == 1


def test_rules_name_the_cohorts_they_use_as_those_are_named_now(api):
    """A renamed cohort's new name shows in the rules built on it, so that rules read back
    and sent again still mean the same cohort, even after another takes the old name."""
    api.post("/v1/events", json={"events": [
        {"event": "visit", "person_id": "ana"}, {"event": "visit", "person_id": "bob"},
        {"event": "buy", "person_id": "bob"},
    ]}).raise_for_status()  # fmt: skip
    base = api.post("/v1/cohorts", json={"name": "base", "rules": ["event:visit"]}).json()
    api.post("/v1/cohorts", json={"name": "buyers", "rules": ["event:buy"]})
    rules = ["cohort:base", "not cohort:buyers"]
    assert api.post("/v1/cohorts", json={"name": "derived", "rules": rules}).status_code == 201
    assert api.patch("/v1/cohorts/base", json={"name": "base 2"}).is_success

    shown = api.get("/v1/cohorts/derived").json()
    assert shown["rules"] == ['cohort:"base 2"', "not cohort:buyers"]
    assert shown["definition"]["rules"][0]["cohort"] == "base 2"
    listed = {c["name"]: c for c in api.get("/v1/cohorts").json()["data"]}
    assert listed["derived"]["rules"] == shown["rules"]

    api.post("/v1/cohorts", json={"name": "base", "rules": ["event:buy"]}).raise_for_status()
    again = api.patch("/v1/cohorts/derived", json={"rules": shown["rules"]})
    assert again.status_code == 200, again.text
    assert again.json()["definition"]["rules"][0]["cohort_id"] == base["id"]
    assert again.json()["count"] == 1  # ana: visited, did not buy


def test_an_edit_that_changes_nothing_leaves_updated_at_as_it_was(api):
    when = datetime.fromisoformat
    cohort = api.post("/v1/cohorts", json={"name": "c", "rules": ["event:x in last 7d"]}).json()
    audience = api.post("/v1/audiences", json={"name": "a", "source_cohort_id": "c"}).json()
    path = f"/v1/audiences/{audience['id']}"
    for body in ({}, {"name": "c"}, {"rules": cohort["rules"]}, {"match": "all"}):
        again = api.patch("/v1/cohorts/c", json=body).json()
        assert again["updated_at"] == cohort["updated_at"], body
        assert when(again["computed_at"]) >= when(cohort["computed_at"])
    for body in ({}, {"name": "a"}, {"status": "active"}):
        assert api.patch(path, json=body).json()["updated_at"] == audience["updated_at"], body
    renamed = api.patch("/v1/cohorts/c", json={"name": "d"}).json()
    assert when(renamed["updated_at"]) > when(cohort["updated_at"])
    renamed = api.patch(path, json={"name": "b"}).json()
    assert when(renamed["updated_at"]) > when(audience["updated_at"])


def test_a_cohort_name_shaped_like_a_cohort_id_is_refused(api):
    taken = api.post("/v1/cohorts", json={"name": "buyers", "rules": ["event:buy"]}).json()["id"]
    for name in (taken, "coh_01M91H99HATE5Q0PTZFBGRBSSJ"):
        answer = api.post("/v1/cohorts", json={"name": name, "rules": ["event:visit"]})
        assert answer.status_code == 422 and answer.json()["error"]["field"] == "name"
        answer = api.patch("/v1/cohorts/buyers", json={"name": name})
        assert answer.status_code == 422 and answer.json()["error"]["field"] == "name"
    assert api.post("/v1/cohorts", json={"name": "coh_summer", "rules": ["event:x"]}).is_success
    assert [c["name"] for c in api.get("/v1/cohorts").json()["data"]] == ["coh_summer", "buyers"]


def test_a_cohort_is_addressed_by_its_name_whatever_characters_it_has(api):
    name = "Q1/Q2 buyers: İstanbul %20 ?x=1"
    created = api.post("/v1/cohorts", json={"name": name, "rules": ["event:purchase"]})
    assert created.status_code == 201
    path = "/v1/cohorts/" + quote(name, safe="")
    assert api.get(path).json()["id"] == created.json()["id"]
    assert api.delete(path).status_code == 204


def test_property_values_at_the_storable_limits_are_accepted(api):
    properties = {"big": 2**64 - 1, "small": -(2**63), "deep": _nested(32), "ratio": 1e308}
    events = [{"event": "edge", "person_id": "p", "properties": properties}]
    assert api.post("/v1/events", json={"events": events}).json() == {"accepted": 1}
    persons = [{"person_id": "p", "properties": properties}]
    assert api.post("/v1/persons", json={"persons": persons}).json() == {"accepted": 1}
    preview = {"rules": ["event:edge where big > 9007199254740992"]}
    assert api.post("/v1/cohorts/preview", json=preview).json()["count"] == 1


def test_deleting_a_cohort_while_an_audience_is_promoted_from_it_never_does_both(system):
    _, key = system.workspace(plan="custom")
    with system.client(key) as api, ThreadPoolExecutor(2) as pool:
        for round_ in range(12):
            name = f"race-{round_}"
            assert api.post("/v1/cohorts", json={"name": name, "rules": ["event:x"]}).is_success

            def delete(name: str = name) -> int:
                with system.client(key) as own:
                    return own.delete(f"/v1/cohorts/{name}").status_code

            def promote(name: str = name) -> int:
                with system.client(key) as own:
                    body = {"name": name, "source_cohort_id": name}
                    return own.post("/v1/audiences", json=body).status_code

            deleted, promoted = pool.submit(delete), pool.submit(promote)
            outcome = (deleted.result(), promoted.result())
            assert outcome in {(204, 404), (409, 201)}, outcome
        for audience in api.get("/v1/audiences").json()["data"]:
            assert api.get(f"/v1/cohorts/{audience['source_cohort_id']}").is_success


def test_the_openapi_document_describes_the_errors_as_the_api_sends_them(system, api):
    spec = httpx.get(f"{system.url}/openapi.json").json()
    assert "HTTPValidationError" not in spec["components"]["schemas"]
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            if not path.startswith("/v1"):
                continue
            statuses = set(operation["responses"])
            assert {"401", "422"} <= statuses, (method, path)
            assert "{" not in path or "404" in statuses, (method, path)
            for status in statuses - {"200", "201", "202", "204"}:
                schema = operation["responses"][status]["content"]["application/json"]["schema"]
                assert schema["$ref"] == "#/components/schemas/ErrorBody", (method, path, status)
    cohort, _ = cohort_and_audience(api)
    documented = spec["paths"]["/v1/cohorts"]["post"]["responses"]
    answers = {
        "401": httpx.post(f"{system.url}/v1/cohorts", json={"name": "x", "rules": ["event:x"]}),
        "409": api.post("/v1/cohorts", json={"name": cohort["name"], "rules": ["event:x"]}),
        "422": api.post("/v1/cohorts", json={"name": "x", "rules": []}),
    }
    for status, answer in answers.items():
        assert str(answer.status_code) == status and status in documented
        ErrorBody.model_validate(answer.json())
