"""Starting the system: the runtime, first-start set-up and the demo data set.

On first start `up` generates the admin token (kept in the data dir, readable only by its
owner) and a demo workspace, and prints the token and the workspace's secret key once.
`--demo` loads the demo data set into that workspace: people, events, the product page's
recipes as cohorts, and audiences on them.
"""

from __future__ import annotations

import asyncio
import difflib
import fcntl
import json
import os
import secrets
import time
from collections.abc import Callable, Coroutine
from datetime import datetime, timedelta
from pathlib import Path
from typing import IO, Any

import typer
from dotenv import dotenv_values
from pydantic import SecretStr, ValidationError
from rich.console import Console
from rich.markup import escape

from gurulu.api.errors import plain_message
from gurulu.common import crypto, logs, requests
from gurulu.common.clickhouse import ClickHouse
from gurulu.common.clock import utcnow
from gurulu.common.ids import new_id
from gurulu.common.settings import Settings
from gurulu.common.store import audiences as audiences_store
from gurulu.common.store import runs, workspaces
from gurulu.common.store.audiences import Audience
from gurulu.common.store.runs import Run
from gurulu.evaluator.refresh import refresh
from gurulu.snapshotter.daily import fold

from . import demo
from .runtime import (
    SERVICES,
    CannotStart,
    Options,
    Runtime,
    StoreLost,
    install_signal_handlers,
    run,
)

console = Console(stderr=True, soft_wrap=True)
# The services that seal or open destination credentials, and so need the shared key.
CREDENTIAL_SERVICES = ("api", "destinations")


def _state_file(settings: Settings) -> Path:
    return settings.data_path / "state.json"


def _admin_token(settings: Settings) -> tuple[str, bool]:
    """The admin token from the settings, else the one kept in the data dir (made the first
    time); and whether it is the kept one."""
    if settings.admin_token is not None:
        return settings.admin_token.get_secret_value(), False
    path = settings.data_path / "admin_token"
    if path.exists():
        return path.read_text().strip(), True
    token = "gat_" + secrets.token_urlsafe(32)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(token + "\n")
    return token, True


class AlreadyRunning(Exception):
    """Another `gurulu up` holds the data dir."""


def _hold(data_dir: Path) -> IO[str]:
    """Hold the data dir for this process (released when it exits, however it exits): chDB
    and the embedded Redis keep one process's data there."""
    data_dir.mkdir(parents=True, exist_ok=True)
    handle = (data_dir / "gurulu.pid").open("a+")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.seek(0)
        holder = handle.read().strip() or "?"
        handle.close()
        raise AlreadyRunning(f"another gurulu (pid {holder}) is running on {data_dir}") from None
    handle.truncate(0)
    handle.write(f"{os.getpid()}\n")
    handle.flush()
    return handle


def install_demo(db: ClickHouse, workspace_id: str, now: datetime, days: int = 30) -> list[str]:
    """Load the demo shop, define the recipes, and promote each to an audience with a
    history: one real refresh per day of the last `days` days, evaluated at that day's noon
    over the demo's events, so that charts and run lists have something to show."""
    demo.load(db, workspace_id, now)
    created = []
    for cohort, (_, _, _, audience_name) in zip(
        demo.define_recipes(db, workspace_id, now), demo.RECIPES, strict=True
    ):
        audience = Audience(
            workspace_id, new_id("aud"), audience_name, cohort.cohort_id, "hourly", "active",
            now - timedelta(days=days), now - timedelta(days=days),
        )  # fmt: skip
        audiences_store.save(db, audience)
        for back in range(days, 0, -1):
            at = (now - timedelta(days=back)).replace(hour=12, minute=0, second=0, microsecond=0)
            run = requests.queued(workspace_id, audience.audience_id, "hourly_tick", at)
            runs.record_requests(db, [run])
            refresh(db, workspace_id, audience.audience_id, run.run_id, clock=_running_from(at))
            fold(db, workspace_id, audience.audience_id, at.date())
        created.append(audience.audience_id)
    return created


def _running_from(at: datetime) -> Callable[[], datetime]:
    """A clock that starts at `at` and runs at the real pace, so a backfilled run shows
    how long its refresh really took."""
    began = time.monotonic()
    return lambda: at + timedelta(seconds=time.monotonic() - began)


async def _load(runtime: Runtime, demo: bool) -> tuple[str | None, list[Run]]:
    """The demo workspace (with its secret key if it is made now) and, the first time with
    `--demo`, the demo shop and a month of its audiences' history, and a refresh of each
    recorded as owed. This runs before the services start, so that no ticker or evaluator
    sees the history's runs while they are written."""
    state_path = _state_file(runtime.settings)
    state = json.loads(state_path.read_text()) if state_path.exists() else {}
    key, fresh = None, []
    if "demo_workspace_id" not in state:
        workspace, key = await asyncio.to_thread(
            workspaces.create, runtime.db, "Demo shop", "custom"
        )
        state["demo_workspace_id"] = workspace.workspace_id
    if demo and not state.get("demo_loaded"):
        workspace_id = state["demo_workspace_id"]
        with console.status("Loading the demo shop and a month of audience history…"):
            created = await asyncio.to_thread(install_demo, runtime.db, workspace_id, utcnow())
        now = utcnow()
        fresh = [requests.queued(workspace_id, aud, "created", now) for aud in created]
        await asyncio.to_thread(runs.record_requests, runtime.db, fresh)
        state["demo_loaded"] = True
    state_path.write_text(json.dumps(state, indent=2))
    return key, fresh


def _banner(runtime: Runtime, url: str, token: str, kept: bool, key: str | None) -> None:
    # The kept admin token is shown by the first start that comes this far (one that
    # failed earlier may have made it), then only where it is kept.
    state_path = _state_file(runtime.settings)
    state = json.loads(state_path.read_text()) if state_path.exists() else {}
    show_token = kept and not state.get("admin_token_shown")
    state["admin_token_shown"] = state.get("admin_token_shown") or kept
    state_path.write_text(json.dumps(state, indent=2))
    app = f"{url}/app"
    console.print(f"\n[bold green]Gurulu Audiences is up[/] at [link={app}]{app}[/link]")
    console.print(f"  API        {url}/v1   (docs at {url}/docs)")
    where = runtime.settings.data_path / "admin_token"
    if show_token:
        console.print(f"  Admin token (kept in {where}):")
        console.print(f"    export GURULU_ADMIN_TOKEN={token}")
    elif kept:
        console.print(f"  Admin token in {where}")
    if key:
        console.print("  Demo workspace secret key (shown once; sign in to the app with it):")
        console.print(f"    export GURULU_SECRET_KEY={key}")
    console.print("  Stop with Ctrl-C.\n")


def start_all(port: int | None, data_dir: Path | None, demo_data: bool, evaluators: int) -> None:
    """Every service in one process on the embedded default, until SIGINT or SIGTERM.
    A flag given on the command line wins over the environment and `.env`."""
    logs.configure()
    overrides: dict[str, object] = {}
    if port is not None:
        overrides["http_port"] = port
    if data_dir is not None:
        overrides["data_dir"] = data_dir
    settings = _settings(**overrides)
    _require_shared_key(settings)
    try:
        held = _hold(settings.data_path)
    except AlreadyRunning as error:
        console.print(f"[red]Error:[/] {escape(str(error))}")
        raise typer.Exit(1) from None
    except OSError as error:
        reason = error.strerror or str(error)
        console.print(f"[red]Error:[/] cannot use {settings.data_path} as the data dir: {reason}")
        raise typer.Exit(1) from None
    with held:
        token, kept = _admin_token(settings)
        settings = settings.model_copy(update={"admin_token": SecretStr(token)})
        url = f"http://{settings.http_host}:{settings.http_port}"

        async def main() -> None:
            stop = asyncio.Event()
            install_signal_handlers(stop)

            loaded: list[tuple[str | None, list[Run]]] = []

            async def prepare(runtime: Runtime) -> None:
                loaded.append(await _load(runtime, demo_data))

            async def ready(runtime: Runtime) -> None:
                key, fresh = loaded[0]
                await requests.announce(runtime.broker, runtime.redis, fresh)
                _banner(runtime, url, token, kept, key)

            await run(settings, Options(evaluators=evaluators), stop, ready, prepare)

        _run_until_stopped(main)


def start_one(service: str, evaluators: int) -> None:
    """One service against GURULU_CLICKHOUSE_URL and GURULU_REDIS_URL."""
    if service not in SERVICES:
        raise typer.BadParameter(f"unknown service {service!r}; one of {', '.join(SERVICES)}")
    logs.configure()
    settings = _settings()
    if service == "api" and settings.admin_token is None:
        raise typer.BadParameter("the api needs GURULU_ADMIN_TOKEN in the distributed setup")
    if service in CREDENTIAL_SERVICES:
        _require_shared_key(settings)

    async def main() -> None:
        stop = asyncio.Event()
        install_signal_handlers(stop)
        await run(settings, Options(services=(service,), evaluators=evaluators), stop)

    _run_until_stopped(main)


# GURULU_ variables that are not the services' settings: the CLI's, and the test suite's.
OTHER_VARIABLES = {
    "GURULU_API_URL",
    "GURULU_SECRET_KEY",
    "GURULU_DESTINATION_TOKEN",
    "GURULU_TEST_CLICKHOUSE_URL",
    "GURULU_UPDATE_SCREENSHOTS",
}


def _unknown_variables() -> None:
    """A warning for each GURULU_ variable (in the environment or `.env`) that no setting
    reads: a misspelt one would otherwise be ignored without a word."""
    known = {"GURULU_" + name.upper() for name in Settings.model_fields} | OTHER_VARIABLES
    given = set(os.environ) | set(dotenv_values(".env"))
    for name in sorted(v for v in given if v.upper().startswith("GURULU_")):
        if name.upper() in known:
            continue
        close = difflib.get_close_matches(name.upper(), sorted(known), n=1)
        hint = f" (did you mean {close[0]}?)" if close else ""
        console.print(f"[yellow]Warning:[/] {escape(name)} is not a setting; it is ignored{hint}")


def _settings(**overrides: object) -> Settings:
    """The settings, or a line per bad one (named as its environment variable) and exit 2."""
    _unknown_variables()
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as error:
        for problem in error.errors():
            name = "GURULU_" + "_".join(str(part) for part in problem["loc"]).upper()
            message = plain_message(problem["msg"])
            console.print(f"[red]Error:[/] {name}: {escape(message)}")
        raise typer.Exit(2) from None


def _run_until_stopped(main: Callable[[], Coroutine[Any, Any, None]]) -> None:
    try:
        asyncio.run(main())
    except (CannotStart, StoreLost) as error:
        console.print(f"[red]Error:[/] {escape(str(error))}")
        raise typer.Exit(1) from None


def _require_shared_key(settings: Settings) -> None:
    try:
        crypto.require_shared_key(settings)
    except crypto.NoSharedKey as error:
        raise typer.BadParameter(str(error)) from None
