"""Identifiers of people for destinations: email and phone from person properties,
normalised the way each platform matches them, then SHA-256 hex.

- Meta: email trimmed and lower-cased; phone as digits with the country code, no `+`.
- Google: email trimmed and lower-cased, and for gmail.com / googlemail.com addresses the
  dots and any `+suffix` of the local part removed; phone E.164 with its `+`.
- Webhooks: email trimmed and lower-cased; phone E.164 with its `+` (no platform to match,
  so the least surprising forms).

A phone without an international prefix (`+` or `00`) is read in the person's `country`
(an ISO 3166 two-letter code) or else the destination's `default_country`. With neither,
it is taken only if its digits, read as starting with a country code, make a valid number
(`16505551212`); otherwise the person's phone is skipped as a "phone without a country
code" rather than guessed (`(650) 555-1212` read so would be a Singapore number).

Values already hashed (64 hex digits, in any case) pass through lower-cased, whether they
come in `email` / `phone` themselves or in `email_sha256` / `phone_sha256` (those when no
usable clear value is there). Nothing here logs: the values are personal data.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

import phonenumbers

Rules = Literal["meta", "google", "webhook"]
PROPERTY_KEYS = ("email", "phone", "email_sha256", "phone_sha256", "country")
_HEX64 = re.compile(r"^[0-9a-fA-F]{64}$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_REGION = re.compile(r"^[A-Za-z]{2}$")
_GMAIL = ("gmail.com", "googlemail.com")
NO_IDENTIFIER = "no email or phone"
NO_COUNTRY_CODE = "phone without a country code"


@dataclass(frozen=True)
class Identity:
    """A person's hashed identifiers ("" where absent); at least one is set."""

    email_sha256: str = ""
    phone_sha256: str = ""


def sha256_hex(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def normalise_email(raw: str, rules: Rules) -> str | None:
    email = raw.strip().lower()
    if not _EMAIL.match(email):
        return None
    if rules == "google":
        local, _, domain = email.rpartition("@")
        if domain in _GMAIL:
            local = local.split("+", 1)[0].replace(".", "")
            if not local:
                return None
            email = f"{local}@{domain}"
    return email


def normalise_phone(raw: str, rules: Rules, region: str | None = None) -> str | None:
    normalised, _ = read_phone(raw, rules, region)
    return normalised


def read_phone(raw: str, rules: Rules, region: str | None = None) -> tuple[str | None, str]:
    """The phone in the platform's form, or None and why: "unusable phone", or
    `NO_COUNTRY_CODE` for national digits with no region to read them in."""
    text = raw.strip()
    if text.startswith("00"):
        text = "+" + text[2:]  # the international call prefix used across Europe
    digits = re.sub(r"\D", "", text)
    if not digits:
        return None, "unusable phone"
    guessed = not text.startswith("+") and region is None
    if guessed:
        text = "+" + digits  # no region to read it in: only if the digits carry a country code
    try:
        number = phonenumbers.parse(text, None if text.startswith("+") else region)
    except phonenumbers.NumberParseException:
        return None, "unusable phone"
    if guessed and not phonenumbers.is_valid_number(number):
        return None, NO_COUNTRY_CODE
    if not phonenumbers.is_possible_number(number):
        return None, "unusable phone"
    e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    return (e164.removeprefix("+") if rules == "meta" else e164), ""


def _region(properties: Mapping[str, str], default: str | None) -> str | None:
    country = properties.get("country", "").strip()
    if _REGION.match(country):
        return country.upper()
    return default.upper() if default and _REGION.match(default) else None


def _hashed(properties: Mapping[str, str], key: str) -> str:
    return _as_hash(properties.get(key, ""))


def _hash_of(normalised: str | None) -> str:
    return sha256_hex(normalised) if normalised else ""


def _as_hash(raw: str) -> str:
    """The value lower-cased if it is already a SHA-256 hex digest, else ""."""
    value = raw.strip()
    return value.lower() if _HEX64.match(value) else ""


def identify(
    properties: Mapping[str, str], rules: Rules, default_country: str | None = None
) -> Identity | str:
    """The person's identity for a platform, or the reason they have none."""
    email = phone = ""
    phone_problem = "unusable phone"
    if raw := properties.get("email", ""):
        email = _as_hash(raw) or _hash_of(normalise_email(raw, rules))
    if (raw := properties.get("phone", "")) and not (phone := _as_hash(raw)):
        region = _region(properties, default_country)
        normalised, phone_problem = read_phone(raw, rules, region)
        phone = _hash_of(normalised)
    email = email or _hashed(properties, "email_sha256")
    phone = phone or _hashed(properties, "phone_sha256")
    if email or phone:
        return Identity(email, phone)
    given = [
        kind
        for kind in ("email", "phone")
        if properties.get(kind) or properties.get(f"{kind}_sha256")
    ]
    if "phone" in given and phone_problem == NO_COUNTRY_CODE:
        return "; ".join([*(["unusable email"] if "email" in given else []), NO_COUNTRY_CODE])
    return f"unusable {' and '.join(given)}" if given else NO_IDENTIFIER
