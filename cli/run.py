"""`gurulu up` and `gurulu serve`: the commands that start the system. The work lives in
`system.py`, imported only when one of them runs, so that the client commands (which
never need ClickHouse or the broker) start fast."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer


def up(
    port: Annotated[
        int | None,
        typer.Option(
            help="HTTP port of the API and the app.",
            show_default="GURULU_HTTP_PORT, or 8080",
        ),
    ] = None,
    data_dir: Annotated[
        Path | None,
        typer.Option(
            help="Where chDB and redis keep their data.",
            show_default="GURULU_DATA_DIR, or .gurulu",
        ),
    ] = None,
    demo: Annotated[
        bool, typer.Option(help="Load demo people, events, cohorts, audiences.")
    ] = False,
    evaluators: Annotated[int, typer.Option(min=1, max=32, help="Evaluator consumers.")] = 2,
) -> None:
    """Start the whole system in one process on the embedded default."""
    from gurulu.cli import system

    system.start_all(port, data_dir, demo, evaluators)


def serve(
    service: Annotated[
        str, typer.Argument(help="api, ticker, evaluator, snapshotter or destinations.")
    ],
    evaluators: Annotated[int, typer.Option(min=1, max=32, help="Evaluator consumers.")] = 1,
) -> None:
    """Run one service against GURULU_CLICKHOUSE_URL and GURULU_REDIS_URL."""
    from gurulu.cli import system

    system.start_one(service, evaluators)
