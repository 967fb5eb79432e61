"""The rule builder's server side: what the builder page needs, the rules a saved form
carries, errors placed next to the rule they concern, and the live preview endpoint.

The builder speaks the API's JSON rule objects; the text box speaks the CLI's rule text,
one rule per line. Both go to the same use cases (`cohorts.preview`, `define`, `redefine`)
that parse them into one definition, so the app accepts exactly what the API accepts. The
preview also answers each rule as canonical text and as JSON, which is how the page moves
rules between the builder and the text box without a second parser in the browser.
"""

from __future__ import annotations

import asyncio
import json
import re
from dataclasses import dataclass, field
from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from pydantic import ValidationError

from gurulu.common.errors import GuruluError, InvalidRequest
from gurulu.common.rules.errors import RuleError
from gurulu.common.rules.parser import parse_definition
from gurulu.common.rules.text import definition_to_text
from gurulu.common.store import cohorts as cohort_store
from gurulu.common.store import people
from gurulu.common.store.cohorts import Cohort

from .. import cohorts
from ..context import ApiContext
from ..deps import ContextDep
from ..schemas import CohortPreview
from .deps import JsonBody, SignedIn
from .format import number
from .session import PREFIX

router = APIRouter(prefix=f"{PREFIX}/cohorts", include_in_schema=False)
_RULE_FIELD = re.compile(r"^rules\.(\d+)")


@dataclass
class FormErrors:
    """Problems of a cohort form: by field, and by rule index for the rules."""

    name: str | None = None
    rules: dict[int, dict[str, Any]] = field(default_factory=dict)
    general: str | None = None

    def __bool__(self) -> bool:
        return bool(self.name or self.rules or self.general)


def form_errors(error: GuruluError) -> FormErrors:
    """A use case's refusal, placed: on a rule, on the name, or over the whole form."""
    where = str(error.details.get("field") or "")
    indexed = _RULE_FIELD.match(where)
    found = FormErrors()
    if indexed:
        found.rules[int(indexed.group(1))] = {"text": _capital(error.message)}
    elif where == "name":
        found.name = _capital(error.message)
    else:
        found.general = _capital(error.message)
    return found


def rule_problems(rules: list[Any], match: str) -> FormErrors | None:
    """The first problem of the rules as the parser sees it, with what the page needs to
    point at it: the rule's index, the column in its text, and a short sentence."""
    try:
        parse_definition(rules, match)
    except RuleError as error:
        if error.index is None:
            return FormErrors(general=_capital(str(error)))
        problem = {"text": _short(error), "column": error.column, "field": error.field}
        return FormErrors(rules={error.index: problem})
    return None


def _short(error: RuleError) -> str:
    if error.detail is not None:
        said = error.detail
    else:
        found = "the end of the rule" if error.found is None else f"“{error.found}”"
        said = f"expected {error.expected}, found {found}"
    return _capital(said)


def _capital(text: str) -> str:
    text = text.strip()
    text = text[:1].upper() + text[1:]
    return text if text.endswith((".", "?", "!")) else text + "."


def rules_of(form: dict[str, str]) -> tuple[list[Any], str]:
    """The rules a submitted form carries, and the match; text mode reads a line a rule."""
    match = form.get("match", "all")
    if form.get("mode") == "text":
        lines = [line.strip() for line in form.get("rules_text", "").splitlines()]
        return [line for line in lines if line], match
    try:
        rules = json.loads(form.get("rules_json") or "[]")
    except ValueError as error:
        raise InvalidRequest("the builder's rules could not be read", field="rules") from error
    if not isinstance(rules, list):
        raise InvalidRequest("the builder's rules could not be read", field="rules")
    return rules, match


def as_text_and_json(rules: list[Any], match: str) -> tuple[list[str], list[dict[str, Any]]]:
    """Valid rules as canonical text and as JSON rule objects (for the builder)."""
    definition = parse_definition(rules, match)
    return definition_to_text(definition), [
        rule.model_dump(mode="json") for rule in definition.rules
    ]


async def builder_context(
    ctx: ApiContext, workspace_id: str, editing: Cohort | None
) -> dict[str, Any]:
    """Suggestions and choices for the builder: events, person properties, cohorts."""
    events, keys, others = await asyncio.gather(
        ctx.run(people.event_names, ctx.db, workspace_id),
        ctx.run(people.property_keys, ctx.db, workspace_id),
        ctx.run(cohort_store.list_all, ctx.db, workspace_id),
    )
    choices = [
        {"id": c.cohort_id, "name": c.name}
        for c in sorted(others, key=lambda c: c.name.lower())
        if editing is None or c.cohort_id != editing.cohort_id
    ]
    return {"events": events, "property_keys": keys, "cohort_choices": choices}


@router.post("/preview")
async def preview(ws: SignedIn, ctx: ContextDep, body: JsonBody) -> JSONResponse:
    try:
        request = CohortPreview.model_validate(body)
    except ValidationError:
        return _refused(
            FormErrors(general="Add at least one rule (at most 50) to see who matches.")
        )
    problems = rule_problems(request.rules, request.match)
    if problems:
        return _refused(problems)
    try:
        found = await ctx.run(
            cohorts.preview, ctx.db, ws.workspace_id, request.rules, request.match
        )
    except GuruluError as error:
        return _refused(form_errors(error))
    text, definition = as_text_and_json(request.rules, request.match)
    return JSONResponse(
        {
            "count": found.count,
            "count_text": number(found.count),
            "sample": found.sample,
            "rules_text": text,
            "definition": definition,
            "notices": found.notices,
        }
    )


def _refused(problems: FormErrors) -> JSONResponse:
    message = problems.general or problems.name or "A rule needs a change."
    rules = {str(index): problem for index, problem in problems.rules.items()}
    body = {"error": {"code": "invalid_request", "message": message, "rules": rules}}
    return JSONResponse(body, status_code=422)
