"""The form that connects a destination: the fields each kind takes — exactly the
configuration `gurulu.common.destination_config` validates, with labels and hints for
people — the request it becomes, and a refusal said in the form's own words.

The three kinds' fieldsets share one form, their inputs named `{kind}.{field}`, so the
form works without script (which only hides the kinds not chosen). Only the chosen kind's
filled-in fields go into the configuration; defaults and validation are the API's own
(`DestinationCreate`, then `destinations.create`), so the app refuses exactly what the API
refuses. A credential typed in is never written back into a page, not even when the form
comes back with an error.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from pydantic import ValidationError

from gurulu.common.errors import GuruluError, InvalidRequest

from ..destination_schemas import DestinationCreate
from ..errors import plain_message, problems
from .format import kind as kind_name


@dataclass(frozen=True)
class Field:
    name: str
    label: str
    hint: str = ""
    required: bool = False
    secret: bool = False
    type: str = "text"
    inputmode: str = ""
    placeholder: str = ""
    advanced: bool = False


COUNTRY = Field(
    "default_country",
    "Default country",
    "Two letters, e.g. TR: the country of phone numbers written without a country code.",
    placeholder="TR",
)
TOKEN_HINT = "Stored encrypted; only its last four characters are ever shown again."
KINDS: dict[str, tuple[Field, ...]] = {
    "webhook": (
        Field(
            "url",
            "Endpoint URL",
            "Each batch of joins and leaves is POSTed here. Only its host is shown afterwards.",
            required=True,
            type="url",
            placeholder="https://crm.example/hooks/gurulu",
        ),
        Field(
            "secret",
            "Signing secret",
            "whsec_ followed by the base64 of a 24 to 64 byte key. Leave it empty and one is"
            " made for you and shown once.",
            secret=True,
        ),
        Field(
            "batch_size",
            "Batch size",
            "People per request, 1 to 10,000 (1,000 if empty).",
            type="number",
            inputmode="numeric",
            placeholder="1000",
            advanced=True,
        ),
        Field(
            "timeout_seconds",
            "Timeout in seconds",
            "How long to wait for each answer, up to 60 (30 if empty).",
            type="number",
            inputmode="decimal",
            placeholder="30",
            advanced=True,
        ),
    ),
    "meta_custom_audience": (
        Field(
            "audience_id",
            "Custom audience ID",
            "Digits only: the ID in the audience's details in Ads Manager.",
            required=True,
            inputmode="numeric",
        ),
        Field(
            "access_token",
            "Access token",
            f"A token with the ads_management permission. {TOKEN_HINT}",
            required=True,
            secret=True,
        ),
        Field(
            "ad_account_id",
            "Ad account ID",
            "Optional: act_ followed by digits.",
            placeholder="act_1234567890",
        ),
        COUNTRY,
        Field(
            "api_version",
            "Graph API version",
            "Like v23.0 (the default if empty).",
            placeholder="v23.0",
            advanced=True,
        ),
        Field(
            "api_base",
            "API base URL",
            "Only to send through a proxy.",
            type="url",
            placeholder="https://graph.facebook.com",
            advanced=True,
        ),
    ),
    "google_customer_match": (
        Field(
            "customer_id",
            "Google Ads customer ID",
            "10 digits, dashes allowed: 123-456-7890.",
            required=True,
        ),
        Field(
            "product_destination_id",
            "Customer Match list ID",
            "Digits only: the user list's ID in Google Ads.",
            required=True,
            inputmode="numeric",
        ),
        Field(
            "access_token",
            "Access token",
            f"An OAuth token for the Data Manager API. {TOKEN_HINT}",
            required=True,
            secret=True,
        ),
        Field(
            "login_customer_id",
            "Manager account ID",
            "Optional: the manager account you sign in through, 10 digits.",
        ),
        COUNTRY,
        Field(
            "api_base",
            "API base URL",
            "Only to send through a proxy.",
            type="url",
            placeholder="https://datamanager.googleapis.com",
            advanced=True,
        ),
    ),
}
OTHER_FIELDS = {
    "type": "Choose what to connect: a webhook, a Meta Custom Audience or a Google Customer"
    " Match list.",
    "mode": "Choose whether it mirrors the audience or only ever adds.",
}


@dataclass(frozen=True)
class Connect:
    """The form's state: what was entered (credentials left out) and what was refused,
    with the name of the input the refusal is about."""

    values: dict[str, str] = field(default_factory=dict)
    error: str | None = None
    input: str | None = None

    @property
    def kind(self) -> str:
        return self.values.get("type", "")

    def value(self, name: str, default: str = "") -> str:
        return self.values.get(name, default)


def request(form: dict[str, str]) -> DestinationCreate:
    """The API's request body for the form; refused as the API refuses it."""
    kind = form.get("type", "")
    config = {}
    for spec in KINDS.get(kind, ()):
        value = form.get(f"{kind}.{spec.name}", "").strip()
        if value:
            config[spec.name] = value
    body = {
        "type": kind,
        "name": form.get("name", "").strip() or None,
        "config": config,
        "mode": form.get("mode") or "mirror",
    }
    try:
        return DestinationCreate.model_validate(body)
    except ValidationError as error:
        first = problems(error.errors())[0]
        where = first["field"]
        raise InvalidRequest(f"{where}: {first['message']}", field=where) from None


def refused(form: dict[str, str], error: GuruluError) -> Connect:
    kind = form.get("type", "")
    secrets = {f"{kind}.{s.name}" for s in KINDS.get(kind, ()) if s.secret}
    kept = {k: v for k, v in form.items() if k not in secrets and k != "csrf_token"}
    where = str(error.details.get("field") or "")
    if where.startswith("config."):
        name = where.removeprefix("config.")
        spec = next((s for s in KINDS.get(kind, ()) if s.name == name), None)
        if spec is not None:
            return Connect(kept, _said(spec, error.message, where), f"{kind}.{name}")
    if where in OTHER_FIELDS:
        return Connect(kept, OTHER_FIELDS[where], where)
    if where == "name":
        text = plain_message(error.message.removeprefix("name: ")).rstrip(".")
        said = (
            f"The name {text}."
            if text.startswith("must")
            else "The name can be up to 200 characters."
        )
        return Connect(kept, said, "name")
    text = error.message.strip().rstrip(".")
    return Connect(kept, f"{kind_name(kind) if kind else 'It'} was not connected: {text}.")


def _said(spec: Field, message: str, where: str) -> str:
    text = plain_message(message.removeprefix(f"{where}: ")).strip()
    if text == "Field required":
        return f"{spec.label} is required."
    if "should match pattern" in text:
        return f"{spec.label} does not look right. {spec.hint}"
    first, _, rest = text.partition(" ")
    if first in ("Input", "String", "Value") and rest.startswith("should"):
        text = f"{spec.label} {rest.split(',')[0]}"
    else:
        text = f"{spec.label}: {text}"
    return text if text.endswith(".") else text + "."
