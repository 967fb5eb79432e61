"""The `gurulu` client commands against a running system, through the real entry point:
each call is `python -m gurulu.cli.main …` in a child process, with the API's URL and a
workspace's key in its environment, exactly as a user's shell would run it. Commands are
written as shell lines (split with shlex), so the product page's block is tested verbatim."""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from .conftest import System, free_port

# The product page's commands, exactly as printed there.
PAGE = """
gurulu cohort create high-intent \\
  --rule 'event:add_to_cart in last 7d' \\
  --rule 'event:checkout_started in last 7d'
gurulu audience create \\
  --name "Yüksek niyetli ziyaretçiler" \\
  --source-cohort high-intent \\
  --sync hourly
gurulu audience list --status active
"""
PAGE_NAME = "Yüksek niyetli ziyaretçiler"
HIGH_INTENT = (
    "cohort create high-intent"
    " --rule 'event:add_to_cart in last 7d' --rule 'event:checkout_started in last 7d'"
)


def gurulu(
    system: System, key: str | None, command: str, **env: str
) -> subprocess.CompletedProcess[str]:
    """Run one `gurulu …` command line (the leading `gurulu` is optional)."""
    args = shlex.split(command.replace("\\\n", " "))
    args = args[1:] if args and args[0] == "gurulu" else args
    environ = {k: v for k, v in os.environ.items() if not k.startswith("GURULU_")}
    environ.update(GURULU_API_URL=system.url, NO_COLOR="1", PYTHONIOENCODING="utf-8")
    environ.update(env)
    if key is not None:
        environ["GURULU_SECRET_KEY"] = key
    return subprocess.run(
        [sys.executable, "-m", "gurulu.cli.main", *args],
        env=environ,
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=120,
    )


def ok(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 0, f"exit {result.returncode}: {result.stderr}"
    return result.stdout


def rows(table: str) -> list[list[str]]:
    """The body rows of a rich table as lists of cell texts."""
    return [
        [cell.strip() for cell in line.strip("│ ").split("│")]
        for line in table.splitlines()
        if line.startswith("│")
    ]


def wait_for(predicate, timeout: float = 30.0):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if value := predicate():
            return value
        time.sleep(0.2)
    raise AssertionError("condition not met in time")


def ingest_shoppers(api: httpx.Client) -> None:
    """ana and bob added to cart and started checkout; cem only added to cart."""
    events = [
        {"event": "add_to_cart", "person_id": "ana"},
        {"event": "checkout_started", "person_id": "ana"},
        {"event": "add_to_cart", "person_id": "bob"},
        {"event": "checkout_started", "person_id": "bob"},
        {"event": "add_to_cart", "person_id": "cem"},
    ]
    assert api.post("/v1/events", json={"events": events}).status_code == 200


def refreshed(api: httpx.Client, audience_id: str) -> dict:
    return wait_for(
        lambda: (a := api.get(f"/v1/audiences/{audience_id}").json())["last_refreshed_at"] and a
    )


def refreshed_buyers(system: System, key: str, api: httpx.Client) -> str:
    """The id of a refreshed audience "Buyers" on the high-intent cohort (ana and bob)."""
    ingest_shoppers(api)
    ok(gurulu(system, key, HIGH_INTENT))
    created = gurulu(
        system, key, "audience create --name Buyers --source-cohort high-intent --json"
    )
    audience_id = json.loads(ok(created))["id"]
    refreshed(api, audience_id)
    return audience_id


def test_the_product_pages_three_commands_work_as_written(system, workspace, api):
    _, key = workspace
    ingest_shoppers(api)
    create_cohort, create_audience, list_active = PAGE.strip().split("\ngurulu ")

    cohort = ok(gurulu(system, key, create_cohort))
    audience = ok(gurulu(system, key, create_audience))
    audience_id = api.get("/v1/audiences").json()["data"][0]["id"]
    refreshed(api, audience_id)
    listed = rows(ok(gurulu(system, key, list_active)))

    assert "high-intent" in cohort and "People   2" in cohort
    assert PAGE_NAME in audience and "first refresh was requested" in audience
    assert len(listed) == 1
    row = listed[0]
    assert row[:5] == [audience_id, PAGE_NAME, "high-intent", "active", "2"]
    assert row[5].endswith("ago") or row[5] == "just now"
    assert row[6].startswith("in ")


def test_json_output_is_the_apis_body_unchanged(system, workspace, api):
    _, key = workspace
    audience_id = refreshed_buyers(system, key, api)

    for command, path in [
        ("cohort list", "/v1/cohorts"),
        ("cohort show high-intent", "/v1/cohorts/high-intent"),
        ("audience list", "/v1/audiences"),
        (f"audience runs {audience_id}", f"/v1/audiences/{audience_id}/runs"),
        (f"audience changes {audience_id}", f"/v1/audiences/{audience_id}/changes"),
        ("quota", "/v1/quota"),
    ]:
        printed = ok(gurulu(system, key, f"{command} --json"))
        assert json.loads(printed) == api.get(path).json(), command
        assert "\x1b" not in printed

    shown = json.loads(ok(gurulu(system, key, f"audience show {audience_id} --json")))
    assert shown["id"] == audience_id and shown["member_count"] == 2


def test_cohort_preview_counts_and_samples_without_saving(system, workspace, api):
    _, key = workspace
    ingest_shoppers(api)

    shown = ok(gurulu(system, key, "cohort preview --rule 'event:add_to_cart in last 7d'"))
    either = gurulu(
        system,
        key,
        "cohort preview --rule 'event:checkout_started in last 7d'"
        " --rule 'event:add_to_cart in last 7d' --match any --json",
    )

    assert "3 people match." in shown and "ana" in shown
    assert json.loads(ok(either))["count"] == 3
    assert api.get("/v1/cohorts").json() == {"data": []}
    typo = ok(gurulu(system, key, "cohort preview --rule 'event:add_to_crat in last 7d'"))
    assert "Rule 1: No 'add_to_crat' event has been seen in this workspace yet; did you" in typo


def test_export_writes_the_csv_header_and_one_row_per_member(system, workspace, api, tmp_path):
    _, key = workspace
    audience_id = refreshed_buyers(system, key, api)
    target = tmp_path / "members.csv"

    written = gurulu(system, key, f"audience export {audience_id} -o {shlex.quote(str(target))}")
    piped = gurulu(system, key, f"audience export {audience_id}")

    assert ok(written) == ""
    assert "Wrote 2 members" in written.stderr
    lines = target.read_text().splitlines()
    assert lines[0] == "audience_id,person_id,joined_at"
    assert [line.split(",")[:2] for line in lines[1:]] == [
        [f'"{audience_id}"', '"ana"'],
        [f'"{audience_id}"', '"bob"'],
    ]
    assert ok(piped) == target.read_text()
    assert piped.stderr == ""
    assert not Path(f"{target}.part").exists()


def test_an_audience_can_be_refreshed_inspected_paused_resumed_and_deleted(system, workspace, api):
    _, key = workspace
    audience_id = refreshed_buyers(system, key, api)

    run_id = ok(gurulu(system, key, f"audience refresh {audience_id}")).split()[-1]
    wait_for(
        lambda: (
            api.get(f"/v1/audiences/{audience_id}/runs").json()["data"][0]["status"] == "succeeded"
        )
    )
    runs = rows(ok(gurulu(system, key, f"audience runs {audience_id}")))
    changes = ok(gurulu(system, key, f"audience changes {audience_id}"))

    assert run_id.startswith("run_")
    assert [run[1:3] for run in runs] == [["manual", "succeeded"], ["created", "succeeded"]]
    assert runs[0][0] == run_id
    assert runs[1][5:8] == ["2", "+2", "0"]
    newest = ok(gurulu(system, key, f"audience runs {audience_id} --limit 1"))
    assert [r[0] for r in rows(newest)] == [run_id]
    assert f"Older runs: gurulu audience runs {audience_id} --before {run_id}" in newest
    older = ok(gurulu(system, key, f"audience runs {audience_id} --before {run_id}"))
    assert [r[1] for r in rows(older)] == ["created"] and "Older runs" not in older
    assert rows(changes)[0][1:5] == ["2", "+2", "0", "+2"] and "█" in changes

    assert "Paused Buyers" in ok(gurulu(system, key, f"audience pause {audience_id}"))
    assert rows(ok(gurulu(system, key, "audience list --status paused")))[0][3] == "paused"
    refused = gurulu(system, key, f"audience refresh {audience_id}")
    assert refused.returncode == 1 and "resume it to refresh it" in refused.stderr
    assert "Resumed Buyers" in ok(gurulu(system, key, f"audience resume {audience_id}"))

    assert "Archived" in ok(gurulu(system, key, f"audience delete {audience_id}"))
    assert api.get(f"/v1/audiences/{audience_id}").status_code == 404


def test_refresh_wait_shows_what_the_refresh_changed_once_it_has_finished(system, workspace, api):
    _, key = workspace
    audience_id = refreshed_buyers(system, key, api)
    api.post("/v1/events", json={"events": [{"event": "checkout_started", "person_id": "cem"}]})

    said = ok(gurulu(system, key, f"audience refresh {audience_id} --wait"))
    latest = api.get(f"/v1/audiences/{audience_id}/runs").json()["data"][0]
    assert latest["status"] == "succeeded" and latest["reason"] == "manual"
    assert said.startswith("Refreshed in ")
    assert "3 members (+1 joined, 0 left); run " + latest["run_id"] in said

    quiet = json.loads(ok(gurulu(system, key, f"audience refresh {audience_id} --wait --json")))
    assert (quiet["status"], quiet["joined_count"], quiet["member_count"]) == ("succeeded", 0, 3)
    assert quiet["run_id"] != latest["run_id"]


def test_a_fourth_audience_on_the_free_plan_exits_4_naming_the_limit(system):
    _, key = system.workspace("free")
    with system.client(key) as free:
        ingest_shoppers(free)
    ok(gurulu(system, key, "cohort create shoppers --rule 'event:add_to_cart in last 7d'"))
    for n in range(3):
        ok(gurulu(system, key, f"audience create --name a{n} --source-cohort shoppers"))

    fourth = gurulu(system, key, "audience create --name a3 --source-cohort shoppers")

    assert fourth.returncode == 4
    assert fourth.stderr.strip() == (
        "Quota exceeded: the free plan allows 3 active audiences (3 in use)."
        " Pause or archive one, or upgrade the plan."
    )
    assert fourth.stdout == ""
    scripted = gurulu(system, key, "audience create --name a3 --source-cohort shoppers --json")
    assert scripted.returncode == 4 and scripted.stdout == ""
    error = json.loads(scripted.stderr)["error"]
    assert (error["code"], error["plan"], error["limit"], error["used"]) == (
        "quota_exceeded",
        "free",
        3,
        3,
    )


def test_an_unknown_id_exits_3_with_the_apis_message(system, workspace):
    _, key = workspace

    missing = gurulu(system, key, "audience show aud_missing")
    no_cohort = gurulu(system, key, "cohort delete nobody")

    assert missing.returncode == 3
    assert missing.stderr.strip() == "Error: no audience 'aud_missing' in this workspace"
    assert no_cohort.returncode == 3 and "no cohort 'nobody'" in no_cohort.stderr
    scripted = gurulu(system, key, "audience show aud_missing --json")
    assert scripted.returncode == 3
    assert json.loads(scripted.stderr)["error"]["code"] == "not_found"


def test_a_bad_rule_shows_the_column_and_what_was_expected(system, workspace):
    _, key = workspace

    bad = gurulu(system, key, "cohort create typo --rule 'event:add_to_cart in lst 7d'")

    assert bad.returncode == 1
    message, rule, caret = bad.stderr.splitlines()
    assert "at column 22" in message and 'expected "last" after "in"' in message
    assert rule.strip() == "event:add_to_cart in lst 7d"
    assert caret.index("^") == rule.index("lst")


def test_a_wrong_or_missing_key_exits_6(system):
    wrong = gurulu(system, "gsk_wrong", "audience list")
    missing = gurulu(system, None, "quota")

    assert wrong.returncode == 6 and "that secret key is not valid" in wrong.stderr
    assert missing.returncode == 6 and "GURULU_SECRET_KEY" in missing.stderr


def test_an_unreachable_api_exits_5_saying_where_it_looked(system, workspace):
    url = f"http://127.0.0.1:{free_port()}"

    result = gurulu(system, workspace[1], "cohort list", GURULU_API_URL=url)

    assert result.returncode == 5
    assert f"cannot reach the Gurulu API at {url}; is `gurulu up` running?" in result.stderr


def test_the_api_url_and_key_options_override_the_environment(system, workspace):
    url = f"http://127.0.0.1:{free_port()}"

    result = gurulu(system, "gsk_wrong", f"--api-url {system.url} --key {workspace[1]} quota")

    assert "active audiences" in ok(gurulu(system, None, f"--key {workspace[1]} quota"))
    assert result.returncode == 0, result.stderr
    assert gurulu(system, workspace[1], f"--api-url {url} quota").returncode == 5


def test_admin_creates_a_workspace_whose_key_works_and_changes_its_plan(system):
    admin = {"GURULU_ADMIN_TOKEN": system.admin_token}

    created = gurulu(system, None, "admin workspace create Acme --plan free --json", **admin)
    workspace = json.loads(ok(created))
    moved = gurulu(
        system, None, f"admin workspace plan {workspace['workspace_id']} --plan custom", **admin
    )
    quota = json.loads(ok(gurulu(system, workspace["secret_key"], "quota --json")))
    human = ok(gurulu(system, None, "admin workspace create 'Acme 2' --plan custom", **admin))
    refused = gurulu(system, None, "admin workspace create Nope")

    assert workspace["name"] == "Acme" and workspace["plan"] == "free"
    assert "is now on the custom plan" in ok(moved) and "over the plan" not in moved.stdout
    assert quota == {"plan": "custom", "dimensions": {"audiences": {"used": 0, "limit": None}}}
    assert "export GURULU_SECRET_KEY=gsk_" in human
    assert refused.returncode == 6 and "GURULU_ADMIN_TOKEN" in refused.stderr


def test_a_workspace_key_is_rotated_without_downtime_and_the_old_one_revoked(system):
    """Issue a new key, move to it (both work meanwhile), revoke the old one: it is refused
    at once on this API, and the last key of a workspace cannot be revoked."""
    admin = {"GURULU_ADMIN_TOKEN": system.admin_token}
    made = json.loads(ok(gurulu(system, None, "admin workspace create Rotating --json", **admin)))
    ws, old = made["workspace_id"], made["secret_key"]
    listed = json.loads(ok(gurulu(system, None, "admin workspace list --json", **admin)))
    assert {"workspace_id": ws, "name": "Rotating", "plan": "free"} in listed["data"]
    [first] = json.loads(ok(gurulu(system, None, f"admin workspace keys {ws} --json", **admin)))[
        "data"
    ]
    assert old.startswith(f"gsk_{first['key_id']}_") and set(first) == {"key_id", "created_at"}

    last = gurulu(system, None, f"admin workspace revoke-key {ws} {first['key_id']}", **admin)
    assert last.returncode == 1 and "last key" in last.stderr

    issued = ok(gurulu(system, None, f"admin workspace new-key {ws}", **admin))
    new = issued.split("export GURULU_SECRET_KEY=")[1].split()[0]
    assert gurulu(system, old, "quota").returncode == 0  # both keys work during the move
    assert gurulu(system, new, "quota").returncode == 0

    revoked = gurulu(system, None, f"admin workspace revoke-key {ws} {first['key_id']}", **admin)
    assert f"Revoked key {first['key_id']}." in ok(revoked)
    assert gurulu(system, old, "quota").returncode == 6  # refused at once
    assert gurulu(system, new, "quota").returncode == 0
    keys = ok(gurulu(system, None, f"admin workspace keys {ws}", **admin))
    assert [r[0] for r in rows(keys)] == [new.split("_")[1]]
    again = gurulu(system, None, f"admin workspace revoke-key {ws} {first['key_id']}", **admin)
    assert again.returncode == 3  # no such key any more
    other, _ = system.workspace()
    elsewhere = gurulu(
        system, None, f"admin workspace revoke-key {other} {new.split('_')[1]}", **admin
    )
    assert elsewhere.returncode == 3 and gurulu(system, new, "quota").returncode == 0


def test_a_cohort_that_feeds_an_audience_cannot_be_deleted(system, workspace, api):
    _, key = workspace
    refreshed_buyers(system, key, api)

    refused = gurulu(system, key, "cohort delete high-intent")

    assert refused.returncode == 1 and "source of audiences" in refused.stderr


@pytest.mark.parametrize("command", ["audience list --status archived", "cohort create x"])
def test_usage_errors_exit_2(system, workspace, command):
    assert gurulu(system, workspace[1], command).returncode == 2
