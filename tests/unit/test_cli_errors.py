"""Failures the CLI reports in one line, without a traceback: bad settings when the system
starts, a store it cannot reach, an answer from something that is not the Gurulu API."""

from __future__ import annotations

import asyncio
import os
import socket

import pytest
import typer

from gurulu.cli import output, system
from gurulu.cli.client import Reply
from gurulu.cli.commands import quota
from gurulu.cli.runtime import CannotStart, Runtime
from gurulu.common.settings import Settings


def test_bad_settings_are_named_as_their_environment_variables_and_exit_2(
    monkeypatch, capsys, tmp_path
):
    monkeypatch.setenv("GURULU_TICK_INTERVAL_SECONDS", "hourly")
    monkeypatch.setenv("GURULU_ENCRYPTION_KEY", "not-a-key")
    with pytest.raises(typer.Exit) as exited:
        system._settings(data_dir=tmp_path)
    assert exited.value.exit_code == 2
    lines = capsys.readouterr().err.splitlines()
    assert sorted(lines) == [
        "Error: GURULU_ENCRYPTION_KEY: must be Fernet keys (32 url-safe base64-encoded bytes),"
        " comma-separated",
        "Error: GURULU_TICK_INTERVAL_SECONDS: Input should be a valid integer, unable to parse"
        " string as an integer",
    ]
    assert "not-a-key" not in "".join(lines)  # a secret is never echoed


def test_a_clickhouse_server_that_cannot_be_reached_is_one_line_without_its_password(tmp_path):
    settings = Settings(data_dir=tmp_path, clickhouse_url="http://gurulu:s3cret@127.0.0.1:1")
    with pytest.raises(CannotStart) as refused:
        asyncio.run(Runtime(settings).open())
    message = str(refused.value)
    assert message.startswith("cannot open ClickHouse at http://gurulu:***@127.0.0.1:1: ")
    assert "s3cret" not in message and "\n" not in message


def test_an_answer_that_is_not_the_gurulu_apis_is_said_so_in_one_line(capsys):
    with pytest.raises(typer.Exit) as exited:
        output.emit(Reply('{"x": 1}', {"x": 1}), False, quota._render)
    assert exited.value.exit_code == output.GENERIC
    said = capsys.readouterr().err
    assert said.startswith("Error: the answer does not look like the Gurulu API's")
    assert "GURULU_API_URL" in said and "Traceback" not in said


def _up_fails(monkeypatch, capsys, data_dir, port: int) -> str:  # type: ignore[no-untyped-def]
    monkeypatch.delenv("GURULU_ADMIN_TOKEN", raising=False)
    monkeypatch.setattr(system.logs, "configure", lambda: None)  # logging stays pytest's
    with pytest.raises(typer.Exit) as exited:
        system.start_all(port, data_dir, False, 1)
    assert exited.value.exit_code == 1
    said = capsys.readouterr().err.strip()
    assert "Traceback" not in said and "\n" not in said, said
    return said


def test_gurulu_up_says_in_one_line_why_it_cannot_use_its_data_dir(monkeypatch, capsys, tmp_path):
    taken = tmp_path / "taken"
    held = system._hold(taken)
    try:
        said = _up_fails(monkeypatch, capsys, taken, 1)
    finally:
        held.close()
    assert said == f"Error: another gurulu (pid {os.getpid()}) is running on {taken}"
    a_file = tmp_path / "a-file"
    a_file.write_text("")
    said = _up_fails(monkeypatch, capsys, a_file, 1)
    assert said == f"Error: cannot use {a_file} as the data dir: File exists"


def test_gurulu_up_says_in_one_line_that_its_port_is_taken_before_opening_a_store(
    monkeypatch, capsys, tmp_path
):
    with socket.create_server(("127.0.0.1", 0)) as listening:
        port = listening.getsockname()[1]
        said = _up_fails(monkeypatch, capsys, tmp_path / "data", port)
    assert said == f"Error: cannot listen on 127.0.0.1:{port}: Address already in use"
    assert not (tmp_path / "data" / "clickhouse").exists()  # nothing was opened


def test_a_gurulu_variable_no_setting_reads_is_warned_of_with_the_closest_one(
    monkeypatch, capsys, tmp_path
):
    monkeypatch.chdir(tmp_path)
    (tmp_path / ".env").write_text("GURULU_HTTP_PROT=9000\n")
    monkeypatch.setenv("GURULU_TICK_INTERVAL", "5")
    monkeypatch.setenv("GURULU_API_URL", "http://127.0.0.1:8080")  # the CLI's: not warned of
    system._settings(data_dir=tmp_path)
    assert capsys.readouterr().err.splitlines() == [
        "Warning: GURULU_HTTP_PROT is not a setting; it is ignored (did you mean"
        " GURULU_HTTP_PORT?)",
        "Warning: GURULU_TICK_INTERVAL is not a setting; it is ignored (did you mean"
        " GURULU_TICK_INTERVAL_SECONDS?)",
    ]
