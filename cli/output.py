"""How the CLI shows things: rich tables for people, the API's own JSON for scripts, and
errors on stderr with an exit code per kind of failure.

Tables follow a few conventions so that every command reads the same: counts are
right-aligned with thousands separators, times are relative ("3 min ago", "in 12 min"),
statuses are coloured. Colour is rich's call: it is dropped when stdout is not a terminal
or `NO_COLOR` is set. When stdout is a pipe, tables are laid out wide rather than wrapped
at 80 columns, so that `grep` sees one row per line. `--json` output bypasses rich
entirely and writes the response body byte for byte.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, NoReturn

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from .client import ApiError, CannotConnect, Reply

GENERIC, USAGE, NOT_FOUND, QUOTA, CONNECT, AUTH = 1, 2, 3, 4, 5, 6
_EXIT_BY_STATUS = {401: AUTH, 403: AUTH, 404: NOT_FOUND, 402: QUOTA}
STATUS_STYLE = {
    "active": "green",
    "paused": "yellow",
    "archived": "dim",
    "succeeded": "green",
    "failed": "bold red",
    "running": "cyan",
    "queued": "yellow",
}
SPARKS = "▁▂▃▄▅▆▇█"
BLOCKS = " ▏▎▍▌▋▊▉█"


def _console(stderr: bool = False) -> Console:
    stream = sys.stderr if stderr else sys.stdout
    wide = not stream.isatty() and "COLUMNS" not in os.environ
    return Console(stderr=stderr, width=200 if wide else None, highlight=False)


out = _console()
err = _console(stderr=True)


def raw(text: str) -> None:
    """The API's body as received, for `--json`; a body-less answer prints nothing."""
    if text:
        sys.stdout.write(text if text.endswith("\n") else text + "\n")
        sys.stdout.flush()


def emit(reply: Reply, json: bool, render: Callable[[Any], None]) -> None:
    """The reply as the API's JSON when asked for, else rendered for people; an answer
    without the fields the API's contract promises (another server at the API's URL) is
    said so in one line."""
    if json:
        raw(reply.text)
        return
    try:
        render(reply.data)
    except (KeyError, TypeError, AttributeError, IndexError) as error:
        missing = f" (it has no {escape(str(error))})" if isinstance(error, KeyError) else ""
        err.print(
            f"[red]Error:[/] the answer does not look like the Gurulu API's{missing}:"
            " is --api-url / GURULU_API_URL right?"
        )
        raise typer.Exit(GENERIC) from None


def table(*columns: str, title: str | None = None) -> Table:
    """A table whose columns ending in `>` are right-aligned numbers. The first column is
    the row's key (an id, a day): it is never wrapped, so that it can be copied whole."""
    grid = Table(title=title, title_justify="left", header_style="bold")
    for index, column in enumerate(columns):
        if column.endswith(">"):
            grid.add_column(column[:-1], justify="right", no_wrap=True)
        else:
            grid.add_column(column, no_wrap=index == 0)
    return grid


def show(grid: Table) -> None:
    """Print a table, or on a terminal too narrow for it without cutting cells, each row
    as a block of `column  value` lines: nothing is cut short, ids stay whole."""
    console = out
    if grid.__rich_measure__(console, console.options).minimum <= console.width:
        console.print(grid)
        return
    if grid.title:
        console.print(grid.title, style="bold")
    names = [str(column.header) for column in grid.columns]
    cells = [list(column.cells) for column in grid.columns]
    for index in range(grid.row_count):
        if index:
            console.print()
        block = Table.grid(padding=(0, 2))
        block.add_column(style="bold", no_wrap=True)
        block.add_column(overflow="fold")
        for name, column in zip(names, cells, strict=True):
            block.add_row(name or " ", column[index])
        console.print(block)


def fields(rows: list[tuple[str, str]]) -> Table:
    """A two-column key/value block for one record."""
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold")
    grid.add_column()
    for key, value in rows:
        grid.add_row(key, value)
    return grid


def count(value: int | None) -> str:
    return "—" if value is None else f"{value:,}"


def signed(value: int) -> str:
    if value > 0:
        return f"[green]+{value:,}[/]"
    return f"[red]{value:,}[/]" if value < 0 else "0"


def status(value: str | None) -> str:
    value = value or "—"
    return f"[{STATUS_STYLE.get(value, 'default')}]{value}[/]"


# Characters the terminal would act on rather than show (an escape sequence can recolour
# or rewrite what is on screen; a carriage return overprints a line), shown as Python
# escapes. Line breaks and tabs are left to lay the text out.
_CONTROLS = [code for code in [*range(0x20), 0x7F, *range(0x80, 0xA0)] if chr(code) not in "\n\t"]
_UNSHOWN = {code: f"\\x{code:02x}" for code in _CONTROLS}
_UNSHOWN |= {0x2028: "\\u2028", 0x2029: "\\u2029"}


def visible(value: str) -> str:
    """Text from the API as the terminal should show it, every control character spelt out."""
    return value.translate(_UNSHOWN)


def text(value: Any) -> str:
    """API text made safe for rich markup (a name may contain brackets) and for the terminal
    (a person id, an event or an older name may hold control characters)."""
    return "—" if value is None or value == "" else escape(visible(str(value)))


def older(page: dict[str, Any], what: str, command: str) -> None:
    """Under a page of a list read newest first, the command for the next page, if any."""
    if page.get("next_before"):
        out.print(f"[dim]Older {what}: {command} --before {page['next_before']}[/]")


def parse_time(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def relative(value: str | None, now: datetime | None = None) -> str:
    """An ISO timestamp as "3 min ago" or "in 12 min"; "—" when absent."""
    moment = parse_time(value)
    if moment is None:
        return "—"
    seconds = ((now or datetime.now(UTC)) - moment).total_seconds()
    span = _span(abs(seconds))
    if span is None:
        return "just now" if seconds >= 0 else "in a moment"
    return f"{span} ago" if seconds >= 0 else f"in {span}"


def _span(seconds: float) -> str | None:
    if seconds < 10:
        return None
    if seconds < 60:
        return f"{int(seconds)} s"
    if seconds < 3600:
        return f"{int(seconds // 60)} min"
    if seconds < 86400:
        return f"{int(seconds // 3600)} h"
    days = int(seconds // 86400)
    return "1 day" if days == 1 else f"{days} days"


def moment(value: str | None) -> str:
    """Relative, then the exact UTC time, for a record's detail view."""
    when = parse_time(value)
    if when is None:
        return "—"
    return f"{relative(value)} [dim]({when.strftime('%Y-%m-%d %H:%M:%S')} UTC)[/]"


def sparkline(values: list[int]) -> str:
    if not values:
        return ""
    low, high = min(values), max(values)
    if low == high:
        return SPARKS[len(SPARKS) // 2] * len(values)
    spread = high - low
    return "".join(SPARKS[round((v - low) / spread * (len(SPARKS) - 1))] for v in values)


def bar(value: int, high: int, width: int = 20) -> str:
    """A horizontal bar of `value` out of `high`, in eighths of a character."""
    if high <= 0 or value <= 0:
        return ""
    eighths = max(1, round(value / high * width * 8))
    full, part = divmod(eighths, 8)
    return "█" * full + (BLOCKS[part] if part else "")


def fail(error: Exception, as_json: bool = False) -> NoReturn:
    """Report an API or connection failure on stderr and exit with its code; with `--json`,
    as the API's error object, for scripts."""
    if as_json:
        sys.stderr.write(json.dumps({"error": _error_body(error)}, ensure_ascii=False) + "\n")
        raise typer.Exit(_exit_code(error))
    if isinstance(error, CannotConnect):
        err.print(f"[red]Error:[/] {text(error)}")
        raise typer.Exit(CONNECT)
    assert isinstance(error, ApiError)
    if error.code == "quota_exceeded":
        sentence = quota_sentence(error.details) if "limit" in error.details else error.message
        err.print(f"[red]Quota exceeded:[/] {text(sentence)}")
        raise typer.Exit(QUOTA)
    err.print(f"[red]Error:[/] {text(error.message)}")
    _rule_pointer(error.details.get("rule_error"))
    raise typer.Exit(_exit_code(error))


def _exit_code(error: Exception) -> int:
    if isinstance(error, CannotConnect):
        return CONNECT
    assert isinstance(error, ApiError)
    return QUOTA if error.code == "quota_exceeded" else _EXIT_BY_STATUS.get(error.status, GENERIC)


def _error_body(error: Exception) -> dict[str, Any]:
    if isinstance(error, CannotConnect):
        return {"code": "cannot_connect", "message": str(error)}
    assert isinstance(error, ApiError)
    return {"code": error.code, "message": error.message, **error.details}


def quota_sentence(details: dict[str, Any]) -> str:
    plan, limit = details.get("plan", "current"), details.get("limit")
    used, dimension = details.get("used"), details.get("dimension", "audiences")
    return (
        f"the {plan} plan allows {limit} active {dimension} ({used} in use)."
        " Pause or archive one, or upgrade the plan."
    )


def _rule_pointer(rule_error: Any) -> None:
    """Under a rule's parse error, the rule with a caret under the offending column."""
    if not isinstance(rule_error, dict):
        return
    rule, column = rule_error.get("rule"), rule_error.get("column")
    if isinstance(rule, str) and rule and isinstance(column, int) and column >= 1:
        pad = len(visible(rule[: column - 1]))
        err.print(f"  {escape(visible(rule))}\n  {' ' * pad}[bold red]^[/]")
