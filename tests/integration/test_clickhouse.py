"""The ClickHouse facade on real chDB: what it reports of the statements it runs."""

from __future__ import annotations

import contextlib
import socket
import threading

from gurulu.common.clickhouse import ClickHouse, Stats, connect


def test_a_statement_reports_the_rows_it_wrote_and_zero_when_it_wrote_none(db: ClickHouse):
    db.command("CREATE TABLE written (n UInt64) ENGINE = MergeTree ORDER BY n")
    wrote = db.command("INSERT INTO written SELECT number FROM numbers({n:UInt64})", {"n": 3})
    nothing = db.command("INSERT INTO written SELECT number FROM numbers(10) WHERE number > 99")
    assert wrote.written_rows == 3
    assert nothing.written_rows == 0
    assert db.scalar("SELECT count() FROM written") == 3


def test_a_summary_without_written_rows_is_unknown_not_zero():
    assert Stats.of({"read_rows": "5"}) == Stats(read_rows=5, written_rows=None)
    assert Stats.of({}).written_rows is None


def first_bytes_sent_to(url: str) -> bytes:
    """Point a client at a listener on loopback that never answers, and return what the
    client sent first: a TLS handshake starts with byte 0x16, plain HTTP with a method."""
    with socket.create_server(("127.0.0.1", 0)) as listener:
        listener.settimeout(10)
        port = listener.getsockname()[1]
        attempt = threading.Thread(
            target=_try_to_connect, args=(url.format(port=port),), daemon=True
        )
        attempt.start()
        peer, _ = listener.accept()
        with peer:
            peer.settimeout(10)
            sent = peer.recv(8)
    attempt.join(timeout=30)
    return sent


def _try_to_connect(url: str) -> None:
    with contextlib.suppress(Exception):  # the listener hangs up: only what was sent matters
        connect(url, "gurulu")


def test_an_https_url_is_spoken_to_over_tls_whatever_its_port():
    assert first_bytes_sent_to("https://127.0.0.1:{port}")[:1] == b"\x16"
    assert first_bytes_sent_to("http://127.0.0.1:{port}").startswith((b"POST", b"GET"))
