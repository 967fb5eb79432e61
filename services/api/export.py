"""The CSV export of an audience's current members, streamed from ClickHouse block by
block: the API holds one block at a time, whatever the audience's size. Hashed PII is for
destination pushes only and never appears here."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator

from gurulu.common.clickhouse import ClickHouse
from gurulu.common.store.audiences import Audience

HEADER = b"audience_id,person_id,joined_at\n"
_MEMBERS = """
SELECT audience_id, person_id, formatDateTime(joined_at, '%Y-%m-%dT%H:%i:%S.%fZ')
FROM audience_members FINAL
WHERE workspace_id = {ws:String} AND audience_id = {aud:String}
ORDER BY person_id
"""


def member_rows(db: ClickHouse, workspace_id: str, audience_id: str) -> Iterator[bytes]:
    yield HEADER
    yield from db.stream(_MEMBERS, {"ws": workspace_id, "aud": audience_id}, fmt="CSV")


def download_headers(audience: Audience) -> dict[str, str]:
    """A download named after the audience, so that two exports can be told apart:
    `yuksek-niyetli-ziyaretciler-aud_….csv` (the name in ASCII, the id to be exact)."""
    folded = unicodedata.normalize("NFKD", audience.name).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", folded.lower()).strip("-")[:60].strip("-")
    filename = f"{slug}-{audience.audience_id}.csv" if slug else f"{audience.audience_id}.csv"
    return {"Content-Disposition": f'attachment; filename="{filename}"'}
