"""The configuration of each kind of destination, validated the same way by the API (when a
destination is connected or edited) and by the destinations service (when it sends).

Each model names its secret fields: the API seals those (`gurulu.common.crypto`) and shows
only a hint of them; everything else is kept and returned as is. Every platform's API base
URL is part of its configuration, so that tests and proxies can point it elsewhere.
"""

from __future__ import annotations

import base64
import binascii
import re
from typing import Annotated, ClassVar
from urllib.parse import urlsplit

import httpx
from pydantic import BaseModel, ConfigDict, Field, field_validator

Country = Annotated[str, Field(pattern=r"^[A-Za-z]{2}$")]
Digits = Annotated[str, Field(pattern=r"^[0-9]{1,32}$")]
WEBHOOK_SECRET_PREFIX = "whsec_"


def _http_url(value: str) -> str:
    value = value.strip()
    if any(ord(c) <= 0x20 or ord(c) == 0x7F for c in value):
        raise ValueError("must not contain spaces or control characters (percent-encode them)")
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("must be an http(s) URL with a host")
    if parts.username or parts.password:
        raise ValueError("must not carry credentials; use the credential fields")
    try:
        port = parts.port  # raises for a port out of range
        httpx.URL(value)
    except (ValueError, httpx.InvalidURL) as error:
        raise ValueError(f"is not a URL that can be sent to: {error}") from None
    if port == 0:
        raise ValueError("is not a URL that can be sent to: port 0")
    return value


def _base_url(value: str) -> str:
    value = _http_url(value)
    if urlsplit(value).query or urlsplit(value).fragment:
        raise ValueError("must be a base URL without a query or fragment")
    return value.rstrip("/")


class DestinationConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    SECRETS: ClassVar[tuple[str, ...]] = ()


class WebhookConfig(DestinationConfig):
    """Standard Webhooks 1.0: each batch is POSTed to `url`, signed with `secret`."""

    SECRETS: ClassVar[tuple[str, ...]] = ("secret",)
    url: Annotated[str, Field(max_length=2000)]
    secret: str
    batch_size: int = Field(default=1000, ge=1, le=10_000)
    timeout_seconds: float = Field(default=30.0, gt=0, le=60)

    _url = field_validator("url")(_http_url)

    @field_validator("secret")
    @classmethod
    def _secret(cls, value: str) -> str:
        if not value.startswith(WEBHOOK_SECRET_PREFIX):
            raise ValueError("must be 'whsec_' followed by the base64 of the key")
        try:
            key = base64.b64decode(value.removeprefix(WEBHOOK_SECRET_PREFIX), validate=True)
        except (binascii.Error, ValueError) as error:
            raise ValueError("must be 'whsec_' followed by the base64 of the key") from error
        if not 24 <= len(key) <= 64:
            raise ValueError("the key must be 24 to 64 bytes")
        return value


class MetaConfig(DestinationConfig):
    """A Meta Custom Audience, written through the Marketing API's `/{audience}/users`."""

    SECRETS: ClassVar[tuple[str, ...]] = ("access_token",)
    audience_id: Digits
    access_token: Annotated[str, Field(min_length=8, max_length=4000)]
    ad_account_id: Annotated[str, Field(pattern=r"^(act_)?[0-9]{1,32}$")] | None = None
    api_version: Annotated[str, Field(pattern=r"^v[0-9]{1,3}\.[0-9]{1,3}$")] = "v23.0"
    api_base: str = "https://graph.facebook.com"
    default_country: Country | None = None

    _api_base = field_validator("api_base")(_base_url)


class GoogleConfig(DestinationConfig):
    """A Google Ads Customer Match list, written through the Data Manager API."""

    SECRETS: ClassVar[tuple[str, ...]] = ("access_token",)
    customer_id: str
    product_destination_id: Digits
    access_token: Annotated[str, Field(min_length=8, max_length=4000)]
    login_customer_id: str | None = None
    api_base: str = "https://datamanager.googleapis.com"
    default_country: Country | None = None

    _api_base = field_validator("api_base")(_base_url)

    @field_validator("customer_id", "login_customer_id")
    @classmethod
    def _customer(cls, value: str | None) -> str | None:
        if value is None:
            return None
        digits = value.replace("-", "")
        if not re.fullmatch(r"[0-9]{10}", digits):
            raise ValueError("must be a 10-digit Google Ads customer id (dashes allowed)")
        return digits


CONFIGS: dict[str, type[DestinationConfig]] = {
    "webhook": WebhookConfig,
    "meta_custom_audience": MetaConfig,
    "google_customer_match": GoogleConfig,
}
