"""Which addresses a destination may reach when private networks are refused."""

from __future__ import annotations

import pytest

from gurulu.common.settings import Settings
from gurulu.destinations.guard import is_public


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "10.1.2.3",
        "172.16.0.9",
        "192.168.1.1",
        "169.254.169.254",  # cloud metadata
        "100.64.0.1",  # shared address space
        "0.0.0.0",
        "224.0.0.1",
        "::1",
        "fe80::1%eth0",
        "fd00::1",
        "::ffff:127.0.0.1",
        "::ffff:10.0.0.1",
    ],
)
def test_private_and_reserved_addresses_are_refused(address):
    assert not is_public(address)


@pytest.mark.parametrize("address", ["8.8.8.8", "157.240.1.35", "2a03:2880:f10c:83::25de"])
def test_public_addresses_are_allowed(address):
    assert is_public(address)


def test_private_networks_follow_the_deployment_unless_set(tmp_path):
    assert Settings(data_dir=tmp_path).destinations_may_reach_private_networks
    server = Settings(data_dir=tmp_path, clickhouse_url="http://clickhouse:8123")
    assert not server.destinations_may_reach_private_networks
    allowed = server.model_copy(update={"destination_private_networks": True})
    assert allowed.destinations_may_reach_private_networks
    refused = Settings(data_dir=tmp_path, destination_private_networks=False)
    assert not refused.destinations_may_reach_private_networks
