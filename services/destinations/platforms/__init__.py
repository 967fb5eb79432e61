"""The platform adapters, built per destination from its configuration and credentials."""

from __future__ import annotations

from typing import Any

import httpx
from pydantic import ValidationError

from gurulu.common.destination_config import CONFIGS, GoogleConfig, MetaConfig, WebhookConfig

from ..identifiers import Rules
from .base import Permanent, Platform
from .google import Google
from .meta import Meta
from .webhook import Webhook

RULES: dict[str, Rules] = {
    "webhook": "webhook",
    "meta_custom_audience": "meta",
    "google_customer_match": "google",
}


def build(
    kind: str, config: dict[str, Any], secrets: dict[str, str], http: httpx.AsyncClient
) -> Platform:
    """The adapter of a destination; a configuration that no longer validates pauses it."""
    try:
        parsed = CONFIGS[kind].model_validate(config | secrets)
    except KeyError:
        raise Permanent(f"unknown destination type {kind!r}", True) from None
    except ValidationError as error:
        # Fields and messages only: pydantic's own text would quote the values, secrets too.
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in error.errors()
        )
        raise Permanent(f"the destination's configuration is not valid: {problems}", True) from None
    if isinstance(parsed, WebhookConfig):
        return Webhook(parsed, http)
    if isinstance(parsed, MetaConfig):
        return Meta(parsed, http)
    assert isinstance(parsed, GoogleConfig)
    return Google(parsed, http)


def default_country(config: dict[str, Any]) -> str | None:
    value = config.get("default_country")
    return value if isinstance(value, str) else None
