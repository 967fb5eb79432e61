"""The key that seals destination credentials: generated into the data dir on the embedded
default, and required — shared by the api and the destinations service — with a ClickHouse
server, where the process that seals and the one that opens run apart."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest
from cryptography.fernet import Fernet

from gurulu.common import crypto
from gurulu.common.settings import Settings


def settings(tmp_path, encryption_key=None, **values) -> Settings:
    return Settings(_env_file=None, data_dir=tmp_path, encryption_key=encryption_key, **values)


@pytest.mark.parametrize("url", ["http://clickhouse:8123", "https://clickhouse.example:8443"])
def test_a_clickhouse_server_without_an_encryption_key_is_refused(tmp_path, url):
    with pytest.raises(crypto.NoSharedKey, match="Set the same GURULU_ENCRYPTION_KEY on both"):
        crypto.vault(settings(tmp_path, clickhouse_url=url))
    assert not (tmp_path / crypto.KEY_FILE).exists()


def test_the_refusal_says_who_shares_the_key_and_how_to_make_one(tmp_path):
    with pytest.raises(crypto.NoSharedKey) as refused:
        crypto.require_shared_key(settings(tmp_path, clickhouse_url="http://clickhouse:8123"))
    message = str(refused.value)
    assert "the api" in message and "the destinations service" in message
    assert "Fernet.generate_key()" in message


def test_a_clickhouse_server_with_an_encryption_key_seals_and_opens(tmp_path):
    key = Fernet.generate_key().decode()
    server = settings(tmp_path, clickhouse_url="http://clickhouse:8123", encryption_key=key)
    sealed = crypto.vault(server).seal({"access_token": "EAAB-secret"})
    assert crypto.Vault([key]).open(sealed) == {"access_token": "EAAB-secret"}
    assert not (tmp_path / crypto.KEY_FILE).exists()


@pytest.mark.parametrize("url", [None, "chdb:///var/lib/gurulu/clickhouse"])
def test_the_embedded_default_generates_its_key_into_the_data_dir(tmp_path, url):
    sealed = crypto.vault(settings(tmp_path, clickhouse_url=url)).seal({"secret": "whsec_x"})
    key = (tmp_path / crypto.KEY_FILE).read_text().strip()
    assert crypto.Vault([key]).open(sealed) == {"secret": "whsec_x"}


@pytest.mark.parametrize(
    "command", [["serve", "api"], ["serve", "destinations"], ["up"]], ids=" ".join
)
def test_the_api_or_destinations_on_a_clickhouse_server_without_a_key_do_not_start(
    tmp_path, command
):
    env = {k: v for k, v in os.environ.items() if not k.startswith("GURULU_")}
    env |= {
        "GURULU_CLICKHOUSE_URL": "http://127.0.0.1:9",
        "GURULU_REDIS_URL": "redis://127.0.0.1:9/0",
        "GURULU_DATA_DIR": str(tmp_path / "data"),
        "GURULU_ADMIN_TOKEN": "a-real-secret-of-enough-length",
    }
    done = subprocess.run(
        [sys.executable, "-m", "gurulu.cli.main", *command],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    said = " ".join(re.sub("[│╭╮╰╯─]", " ", done.stderr).split())
    assert done.returncode == 2, done.stderr
    assert "GURULU_ENCRYPTION_KEY is not set" in said
    assert not (tmp_path / "data").exists()
