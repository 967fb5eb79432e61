"""/app/cohorts: the list, and the rule builder to define, redefine and delete a cohort.

Saving goes through the API's use cases under the same workspace lock as the API's routes,
so names stay unique however many browsers and clients write at once. A form the use case
refuses is shown again as it was sent, with each error next to what it concerns.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from gurulu.common.errors import Conflict, GuruluError
from gurulu.common.rules.text import definition_to_text
from gurulu.common.store import audiences as audience_store
from gurulu.common.store import cohorts as store
from gurulu.common.store.cohorts import Cohort
from gurulu.common.store.workspaces import Workspace

from .. import audiences, cohorts
from ..deps import ContextDep
from ..routes.cohorts import NAMES_LOCK
from .builder import FormErrors, builder_context, form_errors, rule_problems, rules_of
from .deps import Form, SignedIn
from .format import plural
from .rendering import flash, page
from .session import PREFIX

router = APIRouter(prefix=f"{PREFIX}/cohorts", include_in_schema=False)


@router.get("")
async def list_page(request: Request, ws: SignedIn, ctx: ContextDep) -> Response:
    found, audiences = await asyncio.gather(
        ctx.run(store.list_all, ctx.db, ws.workspace_id),
        ctx.run(audience_store.list_all, ctx.db, ws.workspace_id),
    )
    used: dict[str, int] = {}
    for audience in audiences:
        used[audience.source_cohort_id] = used.get(audience.source_cohort_id, 0) + 1
    rows = [(c, definition_to_text(c.definition), used.get(c.cohort_id, 0)) for c in found]
    return page(request, "cohorts.html", workspace=ws, rows=rows)


@router.get("/new")
async def new_page(request: Request, ws: SignedIn, ctx: ContextDep) -> Response:
    return await _builder(request, ctx, ws, None, {}, FormErrors())


@router.post("")
async def create(request: Request, ws: SignedIn, ctx: ContextDep, form: Form) -> Response:
    try:
        rules, match = rules_of(form)
        problems = rule_problems(rules, match)
        if problems:
            return await _builder(request, ctx, ws, None, form, problems)
        async with ctx.exclusive(NAMES_LOCK, ws.workspace_id):
            cohort = await ctx.run(
                cohorts.define, ctx.db, ws.workspace_id, form.get("name", ""), rules, match
            )
    except GuruluError as error:
        return await _builder(request, ctx, ws, None, form, form_errors(error))
    verb = "matches" if cohort.count == 1 else "match"
    flash(request, f"Saved “{cohort.name}”: {plural(cohort.count, 'person', 'people')} {verb}.")
    return RedirectResponse(f"{PREFIX}/cohorts#{cohort.cohort_id}", status_code=303)


@router.get("/{cohort_id}")
async def edit_page(request: Request, cohort_id: str, ws: SignedIn, ctx: ContextDep) -> Response:
    cohort = await ctx.run(cohorts.get, ctx.db, ws.workspace_id, cohort_id)
    return await _builder(request, ctx, ws, cohort, {}, FormErrors())


@router.post("/{cohort_id}")
async def update(
    request: Request, cohort_id: str, ws: SignedIn, ctx: ContextDep, form: Form
) -> Response:
    cohort = await ctx.run(cohorts.get, ctx.db, ws.workspace_id, cohort_id)
    try:
        rules, match = rules_of(form)
        problems = rule_problems(rules, match)
        if problems:
            return await _builder(request, ctx, ws, cohort, form, problems)
        async with ctx.exclusive(NAMES_LOCK, ws.workspace_id):
            cohort = await ctx.run(
                cohorts.redefine,
                ctx.db,
                ws.workspace_id,
                cohort.cohort_id,
                form.get("name", ""),
                rules,
                match,
            )
    except GuruluError as error:
        return await _builder(request, ctx, ws, cohort, form, form_errors(error))
    verb = "matches" if cohort.count == 1 else "match"
    flash(request, f"Saved “{cohort.name}”: {plural(cohort.count, 'person', 'people')} {verb}.")
    return RedirectResponse(f"{PREFIX}/cohorts#{cohort.cohort_id}", status_code=303)


@router.get("/{cohort_id}/delete")
async def delete_page(request: Request, cohort_id: str, ws: SignedIn, ctx: ContextDep) -> Response:
    """Deleting asks first, on a page of its own (it works without script)."""
    cohort = await ctx.run(cohorts.get, ctx.db, ws.workspace_id, cohort_id)
    return page(request, "cohort_delete.html", workspace=ws, cohort=cohort)


@router.post("/{cohort_id}/delete")
async def delete(
    request: Request, cohort_id: str, ws: SignedIn, ctx: ContextDep, form: Form
) -> Response:
    cohort = await ctx.run(cohorts.get, ctx.db, ws.workspace_id, cohort_id)
    try:
        async with ctx.exclusive(NAMES_LOCK, ws.workspace_id):
            await audiences.delete_cohort(ctx, ws.workspace_id, cohort.cohort_id)
    except Conflict as error:
        reason = FormErrors(general=_in_use(cohort, error))
        return await _builder(request, ctx, ws, cohort, {}, reason, status=409)
    flash(request, f"Deleted the cohort “{cohort.name}”.")
    return RedirectResponse(f"{PREFIX}/cohorts", status_code=303)


def _in_use(cohort: Cohort, error: Conflict) -> str:
    audiences = error.details.get("audiences") or []
    others = error.details.get("cohorts") or []
    if audiences:
        names = ", ".join(f"“{name}”" for name in audiences)
        return (
            f"“{cohort.name}” can't be deleted: it is the source of {names}."
            " Archive those audiences first."
        )
    names = ", ".join(f"“{name}”" for name in others)
    return f"“{cohort.name}” can't be deleted: the rules of {names} refer to it."


async def _builder(
    request: Request,
    ctx: ContextDep,
    ws: Workspace,
    cohort: Cohort | None,
    form: dict[str, str],
    errors: FormErrors,
    status: int | None = None,
) -> Response:
    """The builder page, showing `form` as sent when there is one, else the cohort."""
    choices = await builder_context(ctx, ws.workspace_id, cohort)
    state: dict[str, Any] = {
        "name": form.get("name", cohort.name if cohort else ""),
        "match": form.get("match", cohort.definition.match if cohort else "all"),
        "mode": form.get("mode", "builder"),
        "rules_text": form.get("rules_text", _text(cohort)),
        "rules_json": form.get("rules_json") or _json(cohort),
    }
    code = status or (422 if errors else 200)
    return page(
        request, "cohort_form.html", code, workspace=ws, cohort=cohort, state=state,
        errors=errors, **choices,
    )  # fmt: skip


def _text(cohort: Cohort | None) -> str:
    return "\n".join(definition_to_text(cohort.definition)) if cohort else ""


def _json(cohort: Cohort | None) -> str:
    if cohort is None:
        return "[]"
    return json.dumps([rule.model_dump(mode="json") for rule in cohort.definition.rules])
