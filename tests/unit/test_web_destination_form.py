"""The connect form asks for exactly what each kind of destination's configuration takes,
and the app words destinations, syncs and pause reasons plainly."""

from __future__ import annotations

import pytest

from gurulu.api.web import destination_form, format
from gurulu.common.destination_config import CONFIGS
from gurulu.common.errors import InvalidRequest


def test_each_kind_asks_for_every_configuration_field_and_marks_the_credentials():
    assert set(destination_form.KINDS) == set(CONFIGS)
    for kind, fields in destination_form.KINDS.items():
        model = CONFIGS[kind]
        assert [f.name for f in fields] == list(dict.fromkeys(f.name for f in fields))
        assert {f.name for f in fields} == set(model.model_fields), kind
        assert {f.name for f in fields if f.secret} == set(model.SECRETS), kind
        required = {n for n, info in model.model_fields.items() if info.is_required()}
        required -= {"secret"} if kind == "webhook" else set()  # made by the API when empty
        assert {f.name for f in fields if f.required} == required, kind


def test_the_form_becomes_the_apis_request_with_only_the_chosen_kinds_filled_fields():
    body = destination_form.request({
        "type": "webhook", "name": " CRM ", "mode": "add_only",
        "webhook.url": " https://crm.example/h ", "webhook.secret": "", "webhook.batch_size": "50",
        "meta_custom_audience.audience_id": "77",
    })  # fmt: skip
    assert (body.type, body.name, body.mode) == ("webhook", "CRM", "add_only")
    assert body.config == {"url": "https://crm.example/h", "batch_size": "50"}
    with pytest.raises(InvalidRequest) as refused:
        destination_form.request({"type": "tiktok"})
    assert refused.value.details["field"] == "type"


def test_a_refusal_names_the_input_in_plain_words_and_drops_the_credentials():
    form = {"type": "meta_custom_audience", "meta_custom_audience.audience_id": "x1",
            "meta_custom_audience.access_token": "EAAB-secret", "csrf_token": "t"}  # fmt: skip
    error = InvalidRequest(
        "config.audience_id: String should match pattern '^[0-9]{1,32}$'",
        field="config.audience_id",
    )
    state = destination_form.refused(form, error)
    assert state.input == "meta_custom_audience.audience_id"
    assert state.error is not None and state.error.startswith("Custom audience ID does not look")
    assert "meta_custom_audience.access_token" not in state.values
    assert "csrf_token" not in state.values
    assert state.value("meta_custom_audience.audience_id") == "x1"


def test_destinations_and_pause_reasons_in_plain_words():
    assert format.kind("google_customer_match") == "Google Customer Match"
    assert format.trigger("refresh") == "After a refresh"
    assert format.status("partial") == "Partly synced"
    assert format.host("https://crm.example:8443/hooks/t0ken?x=1") == "crm.example:8443"
    assert format.pause_reason("paused by a user").startswith("Paused by someone")
    failed = format.pause_reason("3 syncs in a row failed; the last: the endpoint answered 500")
    assert failed.startswith("Paused after 3 failed syncs in a row.")
    assert "The endpoint answered 500." in failed
    gone = format.pause_reason("the endpoint answered 410 (Gone): it asked to be disabled")
    assert "The endpoint answered 410 (Gone)" in gone and "resume" in gone
