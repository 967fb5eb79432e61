"""Identifiers for destinations: every normalisation and hashing vector of destinations.md,
the Standard Webhooks known-answer signature, and what makes a person skipped."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pytest

from gurulu.common.destination_config import GoogleConfig, MetaConfig, WebhookConfig
from gurulu.destinations.identifiers import (
    NO_COUNTRY_CODE,
    NO_IDENTIFIER,
    Identity,
    identify,
    normalise_email,
    normalise_phone,
    sha256_hex,
)
from gurulu.destinations.platforms.base import Batch, Row
from gurulu.destinations.platforms.meta import Meta
from gurulu.destinations.platforms.webhook import payload, sign
from tests.destinations.fakes import verify_signature

JOHN = "836f82db99121b3481011f16b49dfa5fbc714a0d1b1b9f784a1ebbbf5b39577f"
PHONE_650 = "e323ec626319ca94ee8bff2e4c87cf613be6ea19919ed1364124e16807ab3176"
PHONE_800 = "fb4f73a6ec5fdb7077d564cdd22c3554b43ce49168550c3b12c547b78c517b30"


def test_meta_email_is_trimmed_lowercased_and_hashed():
    assert normalise_email("  John.Doe@Example.COM ", "meta") == "john.doe@example.com"
    assert sha256_hex("john.doe@example.com") == JOHN
    assert identify({"email": "  John.Doe@Example.COM "}, "meta") == Identity(JOHN, "")


def test_meta_phone_is_digits_with_country_code_and_no_plus():
    assert normalise_phone("+1 (650) 555-1212", "meta") == "16505551212"
    assert sha256_hex("16505551212") == PHONE_650
    assert identify({"phone": "+1 (650) 555-1212"}, "meta") == Identity("", PHONE_650)


def test_meta_phone_with_the_international_00_prefix_loses_it():
    assert normalise_phone("0044 7123 456789", "meta") == "447123456789"


def test_a_national_phone_is_read_in_the_persons_country_else_the_default():
    assert normalise_phone("0532 123 45 67", "meta", "TR") == "905321234567"
    assert identify({"phone": "(650) 555-1212", "country": "us"}, "meta").phone_sha256 == (
        PHONE_650
    )
    assert identify({"phone": "(650) 555-1212"}, "meta", "US").phone_sha256 == PHONE_650


def test_google_gmail_addresses_lose_dots_and_plus_suffix():
    got = normalise_email(" Cloudy.SanFrancisco+Shopping@Gmail.com", "google")
    assert got == "cloudysanfrancisco@gmail.com"
    assert normalise_email("A.B+x@googlemail.com", "google") == "ab@googlemail.com"
    # Only Google's own domains, and only for Google.
    assert normalise_email("A.B+x@example.com", "google") == "a.b+x@example.com"
    assert normalise_email("A.B+x@gmail.com", "meta") == "a.b+x@gmail.com"


def test_google_phone_is_e164_with_plus():
    assert normalise_phone("(800)555-0100", "google", "US") == "+18005550100"
    assert sha256_hex("+18005550100") == PHONE_800
    assert identify({"phone": "(800)555-0100"}, "google", "US") == Identity("", PHONE_800)


def test_already_hashed_values_pass_through_lowercased():
    upper = JOHN.upper()
    assert identify({"email_sha256": upper}, "meta") == Identity(JOHN, "")
    assert identify({"phone_sha256": PHONE_650}, "google") == Identity("", PHONE_650)
    # A clear value wins over a hash; a malformed hash is not an identifier.
    assert identify({"email": "john.doe@example.com", "email_sha256": "f" * 64}, "meta") == (
        Identity(JOHN, "")
    )
    assert identify({"email_sha256": "not-a-hash"}, "meta") == "unusable email"


@pytest.mark.parametrize(
    ("properties", "reason"),
    [
        ({}, NO_IDENTIFIER),
        ({"name": "Ayşe"}, NO_IDENTIFIER),
        ({"email": "not an email"}, "unusable email"),
        ({"phone": "12"}, "unusable phone"),
        ({"email": "@", "phone": "abc"}, "unusable email and phone"),
    ],
)
def test_a_person_without_a_usable_identifier_is_skipped_with_the_reason(properties, reason):
    assert identify(properties, "meta") == reason


def test_the_standard_webhooks_known_answer():
    secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
    body = b'{"test": 2432232314}'
    expected = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
    assert sign(secret, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body) == expected
    headers = {
        "webhook-id": "msg_p5jXN8AQM9LWM0D4loKWxJek",
        "webhook-timestamp": "1614265330",
        "webhook-signature": f"v1,bm90LXRoaXM= {expected}",
    }
    assert verify_signature(secret, headers, body)
    assert not verify_signature(secret, headers, body + b" ")


def _batch(change: str = "add", rows: tuple[Row, ...] = (Row("ana", JOHN),)) -> Batch:
    at = datetime(2026, 6, 15, 12, tzinfo=UTC)
    return Batch("aud_1", "run_1", "syn_1", change, 2, True, 12_345, at, rows)  # type: ignore[arg-type]


def test_the_webhook_payload_lists_people_with_hashed_identifiers():
    sent = orjson.loads(payload(_batch("remove")))
    assert sent == {
        "type": "audience.members_changed",
        "timestamp": "2026-06-15T12:00:00Z",
        "data": {
            "audience_id": "aud_1",
            "run_id": "run_1",
            "joined": [],
            "left": [{"person_id": "ana", "email_sha256": JOHN}],
        },
    }


def test_the_readmes_webhook_example_has_the_payloads_shape():
    readme = (Path(__file__).parents[2] / "README.md").read_text()
    block = readme.split("**What a webhook receives.**")[1].split("```json")[1].split("```")[0]

    def shape(value: Any) -> Any:
        if isinstance(value, dict):
            return {key: shape(item) for key, item in value.items()}
        if isinstance(value, list):
            return [shape(item) for item in value[:1]]
        return type(value).__name__

    sent = orjson.loads(payload(_batch("add", (Row("ayse", JOHN, PHONE_650),))))
    assert shape(orjson.loads(block)) == shape(sent)


def test_meta_batches_use_the_multi_key_schema_and_a_session():
    config = MetaConfig(audience_id="123", access_token="EAAB-secret-token")
    body = Meta(config, None).body(_batch(rows=(Row("ana", JOHN), Row("bob", "", PHONE_650))))  # type: ignore[arg-type]
    assert body["payload"] == {"schema": ["EMAIL", "PHONE"], "data": [[JOHN, ""], ["", PHONE_650]]}
    session = body["session"]
    assert (session["batch_seq"], session["last_batch_flag"]) == (2, True)
    assert session["estimated_num_total"] == 12_345 and isinstance(session["session_id"], int)


def test_configs_refuse_what_cannot_work():
    with pytest.raises(ValueError, match="whsec_"):
        WebhookConfig(url="https://hooks.example/x", secret="plain")
    with pytest.raises(ValueError, match="http"):
        WebhookConfig(url="ftp://x", secret="whsec_" + "A" * 40)
    with pytest.raises(ValueError, match="10-digit"):
        GoogleConfig(customer_id="12", product_destination_id="1", access_token="ya29.token")
    assert (
        GoogleConfig(
            customer_id="123-456-7890", product_destination_id="1", access_token="ya29.token"
        ).customer_id
        == "1234567890"
    )


@pytest.mark.parametrize("rules", ["meta", "google", "webhook"])
def test_hashes_in_the_email_and_phone_properties_pass_through_lowercased(rules):
    assert identify({"email": f" {JOHN.upper()} "}, rules) == Identity(JOHN, "")
    assert identify({"phone": PHONE_650.upper()}, rules) == Identity("", PHONE_650)
    mixed = JOHN[:32].upper() + JOHN[32:]
    assert identify({"email": mixed, "phone": PHONE_800}, rules) == Identity(JOHN, PHONE_800)
    # 63 or 65 hex digits are no hash, and no email either.
    assert identify({"email": JOHN[:-1]}, rules) == "unusable email"
    assert identify({"email": JOHN + "a"}, rules) == "unusable email"


def test_a_phone_without_country_code_or_region_is_read_only_when_its_digits_are_valid():
    # No `+`, no `00`, no person country, no default: "(650) 555-1212" is not +65 (Singapore).
    assert normalise_phone("(650) 555-1212", "meta") is None
    assert identify({"phone": "(650) 555-1212"}, "meta") == NO_COUNTRY_CODE
    assert identify({"phone": "(800)555-0100"}, "google") == NO_COUNTRY_CODE
    # Digits that are a valid number with their country code are taken as written.
    assert normalise_phone("1 650 555 1212", "meta") == "16505551212"
    assert identify({"phone": "16505551212"}, "meta") == Identity("", PHONE_650)
    assert normalise_phone("447123456789", "google") == "+447123456789"
    # A usable email still carries the person; the phone's problem is named otherwise.
    assert identify({"email": "john.doe@example.com", "phone": "(650) 555-1212"}, "meta") == (
        Identity(JOHN, "")
    )
    assert identify({"email": "nope", "phone": "(650) 555-1212"}, "meta") == (
        f"unusable email; {NO_COUNTRY_CODE}"
    )
    # A region makes it readable.
    assert identify({"phone": "(650) 555-1212"}, "meta", "US") == Identity("", PHONE_650)
