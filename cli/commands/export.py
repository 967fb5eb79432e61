"""`gurulu audience export`: download an audience's current members as CSV.

The body is streamed chunk by chunk from the API to the file (or stdout), so an audience of
any size passes through in constant memory. A file is written under a `.part` name and
renamed only once the download is complete, so an interrupted export never leaves a
truncated CSV behind under the real name. A progress bar (rows and bytes, out of the
audience's last member count) goes to stderr, and only when stderr is a terminal: piped or
scripted use sees nothing but the CSV. The output is the API's CSV unchanged (header
`audience_id,person_id,joined_at`), so there is no `--json` here.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Annotated

import typer
from rich.filesize import decimal
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from .. import output
from ..client import Client, segment
from .common import session

AudienceId = Annotated[str, typer.Argument(help="The audience's id (aud_…).")]
OutputFile = Annotated[
    Path | None,
    typer.Option(
        "-o", "--output", help="Write the CSV to this file (default: stdout).", dir_okay=False
    ),
]
Tick = Callable[[bytes], None]


def export(ctx: typer.Context, audience: AudienceId, out: OutputFile = None) -> None:
    """Download the audience's current members as CSV: audience_id, person_id, joined_at."""
    path = f"/v1/audiences/{segment(audience)}/export.csv"
    show_progress = sys.stderr.isatty()
    with session(ctx) as api:
        total = _member_count(api, audience) if show_progress else None
        try:
            with _sink(out) as sink, _progress(show_progress, total) as tick:
                rows, size = _copy(api, path, sink, tick)
        except BrokenPipeError:
            # The reader (say `| head`) has gone: stop quietly, as other shell tools do.
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            raise typer.Exit(output.GENERIC) from None
        except OSError as error:
            output.err.print(f"[red]Error:[/] cannot write {out}: {error.strerror or error}")
            raise typer.Exit(output.GENERIC) from None
    if out is not None:
        members = "member" if rows == 1 else "members"
        output.err.print(f"Wrote {rows:,} {members} ({decimal(size)}) to {out}.")


def _copy(api: Client, path: str, sink: IO[bytes], tick: Tick) -> tuple[int, int]:
    """Stream the body into `sink`; (data rows, bytes) written."""
    newlines = size = 0
    with api.stream(path) as response:
        for chunk in response.iter_bytes():
            sink.write(chunk)
            newlines += chunk.count(b"\n")
            size += len(chunk)
            tick(chunk)
    return max(newlines - 1, 0), size


def _member_count(api: Client, audience: str) -> int | None:
    count = api.get(f"/v1/audiences/{segment(audience)}").data.get("member_count")
    return count if isinstance(count, int) else None


@contextmanager
def _sink(out: Path | None) -> Iterator[IO[bytes]]:
    if out is None:
        yield sys.stdout.buffer
        sys.stdout.buffer.flush()
        return
    partial = out.with_name(out.name + ".part")
    try:
        with partial.open("wb") as handle:
            yield handle
        partial.replace(out)
    finally:
        partial.unlink(missing_ok=True)


@contextmanager
def _progress(enabled: bool, total: int | None) -> Iterator[Tick]:
    if not enabled:
        yield lambda chunk: None
        return
    columns = (
        TextColumn("Exporting"),
        BarColumn(),
        TextColumn("{task.completed:,.0f} rows"),
        TextColumn("{task.fields[size]}"),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=output.err, transient=False) as progress:
        task = progress.add_task("export", total=total, size="0 bytes")
        written = 0

        def tick(chunk: bytes) -> None:
            nonlocal written
            header = 1 if written == 0 and chunk else 0
            written += len(chunk)
            rows = chunk.count(b"\n") - header
            progress.update(task, advance=rows, size=decimal(written))

        yield tick
        done = progress.tasks[0].completed
        progress.update(task, completed=done, total=done)
