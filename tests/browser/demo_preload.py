"""Preload a data dir with the demo shop (people, events, the product page's recipes as
cohorts, five audiences with a month of daily history) before a system starts on it, as
`gurulu up --demo` does (chDB admits one process per path, so this runs first, alone).
Prints the demo workspace's secret key.

    python -m tests.browser.demo_preload DATA_DIR
"""

from __future__ import annotations

import sys
from pathlib import Path

from gurulu.cli.system import install_demo
from gurulu.common.clickhouse import connect
from gurulu.common.clock import utcnow
from gurulu.common.schema import migrate
from gurulu.common.store import workspaces


def main(data_dir: str) -> None:
    db = connect(f"chdb://{Path(data_dir).resolve() / 'clickhouse'}", "gurulu")
    migrate(db)
    workspace, key = workspaces.create(db, "Demo shop", "custom")
    install_demo(db, workspace.workspace_id, utcnow())
    db.close()
    print(key)


if __name__ == "__main__":
    main(sys.argv[1])
