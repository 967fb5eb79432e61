"""Preload a data dir with a workspace and synthetic events, generated inside ClickHouse,
before a system starts on it (chDB admits one process per path). Prints the workspace's
secret key.

    python -m tests.e2e.preload DATA_DIR PEOPLE EVENTS
"""

from __future__ import annotations

import sys
from pathlib import Path

from gurulu.common.clickhouse import connect
from gurulu.common.schema import migrate
from gurulu.common.store import workspaces

_EVENTS = """
INSERT INTO events (workspace_id, event, person_id, timestamp)
SELECT {ws:String},
       if(number % {people:UInt64} % 3 = 0 AND intDiv(number, {people:UInt64}) % 3 = 2,
          'purchase',
          ['page_view', 'add_to_cart', 'page_view'][1 + intDiv(number, {people:UInt64}) % 3]),
       concat('p', leftPad(toString(number % {people:UInt64}), 8, '0')),
       now64(3) - toIntervalSecond(number % 2592000)
FROM numbers({events:UInt64})
"""


def main(data_dir: str, people: int, events: int) -> None:
    db = connect(f"chdb://{Path(data_dir).resolve() / 'clickhouse'}", "gurulu")
    migrate(db)
    workspace, key = workspaces.create(db, "preloaded", "custom")
    db.command(_EVENTS, {"ws": workspace.workspace_id, "people": people, "events": events})
    db.close()
    print(key)


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]))
