"""The canonical text of a rule: the inverse of `parse_rule`.

`to_text` writes each rule the way a person would, `event:purchase where amount > 100 count
>= 2 in last 30d`, with clauses in one fixed order (where, count, in last) so that equal rules
always render equally. Names, keys and values are quoted only where the parser would otherwise
read them differently: whitespace, quote characters, operator characters where a key would
stop, an empty string, or text that looks like a number (a quoted "02139" stays text, bare
02139 would become a number). Numbers are written bare: ints as ints, floats in positional
notation with a decimal point, because the parser reads only `-?[0-9]+(.[0-9]+)?` as a number
and an exponent such as `1e+20` would come back as text. The guarantee, checked by the tests, is
`parse_rule(to_text(rule)) == rule` for every valid rule (with `cohort_id` cleared, since the
text names the cohort as written and resolution happens later).
"""

from __future__ import annotations

import math
from decimal import Decimal

from .lexer import OPERATOR_CHARS, QUOTES, parses_as_float, reads_as_number
from .model import CohortRule, Definition, EventRule, PersonRule, Rule, Scalar
from .parser import SET_OPS


def to_text(rule: Rule) -> str:
    """`rule` as canonical rule text."""
    prefix = "not " if rule.negate else ""
    if isinstance(rule, EventRule):
        return prefix + _event(rule)
    if isinstance(rule, PersonRule):
        condition = _condition(rule.op, rule.value, rest=True)
        return f"{prefix}person:{_name(rule.property)} {condition}"
    if isinstance(rule, CohortRule):
        return f"{prefix}cohort:{_name(rule.cohort)}"
    raise TypeError(f"not a rule: {rule!r}")


def definition_to_text(defn: Definition) -> list[str]:
    """Each rule of `defn` as canonical text, in order."""
    return [to_text(rule) for rule in defn.rules]


def _event(rule: EventRule) -> str:
    parts = [f"event:{_name(rule.event)}"]
    if rule.where:
        filters = (
            f"{_name(f.property)} {_condition(f.op, f.value, rest=False)}" for f in rule.where
        )
        parts.append("where " + " and ".join(filters))
    if rule.count is not None:
        parts.append(f"count {rule.count.op} {rule.count.value}")
    if rule.within is not None:
        parts.append(f"in last {rule.within}")
    return " ".join(parts)


def _condition(op: str, value: Scalar | None, rest: bool) -> str:
    if op in SET_OPS:
        return op
    return f"{op} {_value(value, rest)}"


def _name(name: str) -> str:
    # Keys end at an operator character, so names quote those too: one rule for both.
    plain = name and not any(char.isspace() or char in QUOTES + OPERATOR_CHARS for char in name)
    return name if plain else _quote(name)


def _value(value: Scalar | None, rest: bool) -> str:
    if isinstance(value, bool):  # the model stores booleans as text; kept for safety
        value = "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return _float(value)
    if value is None:
        raise ValueError("a comparison needs a value")
    return _quote(value) if _value_needs_quotes(value, rest) else value


def _value_needs_quotes(text: str, rest: bool) -> bool:
    if not text or text[0] in OPERATOR_CHARS or text != text.strip() or _looks_numeric(text):
        return True
    if any(char in QUOTES for char in text):
        return True
    # A person rule's bare value runs to the end of the rule, so inner spaces are fine
    # there; other whitespace (tabs, newlines) is quoted to keep the rule on one line.
    return any(char.isspace() and not (rest and char == " ") for char in text)


def _looks_numeric(text: str) -> bool:
    # Beyond what the parser reads as a number, text that reads as one to people (`1e5`,
    # `1,000`, `inf`) is quoted to say plainly that it compares as text; the parser refuses
    # most such spellings bare.
    return reads_as_number(text) or parses_as_float(text)


def _float(value: float) -> str:
    if not math.isfinite(value):
        raise ValueError(f"{value} has no rule text; values must be finite numbers")
    text = format(Decimal(repr(value)), "f")
    # Without a decimal point the parser would read an int, e.g. 1e16 as 10000000000000000.
    return text if "." in text else text + ".0"


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'
