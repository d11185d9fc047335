"""Choices between fields (an XSD ``xsd:choice``), published as JSON Schema ``oneOf``.

The WSDL and OpenAPI importers publish a choice as ``oneOf`` branches that each require
their fields, plus, for an optional choice, a branch where none of them is given. The
published schema is only advice to the agent; this module reads those rules back and
enforces them on the arguments, so that a request with two branches of a choice (or none
where one is required) is refused before it reaches the legacy system. A null argument
counts as not given, as it does everywhere in the input mapping.

Rules of any other shape are left to the published schema.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Choice:
    """One choice: its branches (the fields each needs) and whether giving none is allowed."""

    branches: tuple[tuple[str, ...], ...]
    optional: bool

    @property
    def title(self) -> str:
        return " | ".join(" + ".join(branch) for branch in self.branches)

    def problem(self, given: frozenset[str]) -> str | None:
        """Why these given arguments break the choice, or None when they keep it.

        Branches may share fields (OpenAPI variants often do): a branch is taken when all its
        fields are given, and a field given beside it must belong to it.
        """
        members = list(dict.fromkeys(name for branch in self.branches for name in branch))
        chosen = [name for name in members if name in given]
        complete = [branch for branch in self.branches if given.issuperset(branch)]
        if len(complete) == 1 and set(chosen) <= set(complete[0]):
            return None
        several = f"choice {self.title}: send one branch, not several (given: {', '.join(chosen)})"
        if complete:
            return several
        if not chosen:
            return None if self.optional else f"choice {self.title}: send one branch (given: none)"
        # The fields only one branch has say which branch was meant.
        meant = {
            branch
            for branch in self.branches
            for name in chosen
            if name in branch and sum(name in other for other in self.branches) == 1
        }
        if len(meant) > 1:
            return several
        branch = (
            next(iter(meant)) if meant else max(self.branches, key=lambda b: len(given & set(b)))
        )
        missing = ", ".join(name for name in branch if name not in given)
        return f"choice {self.title}: branch {' + '.join(branch)} also needs {missing}"


def choices_of(rules: dict[str, Any] | None) -> tuple[Choice, ...]:
    """The choices among JSON Schema rules: a top-level ``oneOf``, or each under ``allOf``."""
    if not rules:
        return ()
    found = [_choice(rules.get("oneOf"))]
    found += [
        _choice(rule.get("oneOf")) for rule in rules.get("allOf", ()) if isinstance(rule, dict)
    ]
    return tuple(choice for choice in found if choice is not None)


def _choice(branches: Any) -> Choice | None:
    if not isinstance(branches, list):
        return None
    required: list[tuple[str, ...]] = []
    optional = False
    for branch in branches:
        names = branch.get("required") if isinstance(branch, dict) else None
        if isinstance(names, list) and len(branch) == 1 and names:
            required.append(tuple(str(name) for name in names))
        elif _none_of(branch):
            optional = True
        else:
            return None  # not a choice between fields: the published schema says what it means
    return Choice(tuple(required), optional) if len(required) > 1 else None


def _none_of(branch: Any) -> bool:
    """``{"not": {"anyOf": [{"required": [name]}, ...]}}``: none of the fields is given."""
    if not isinstance(branch, dict) or set(branch) != {"not"}:
        return False
    inner = branch["not"]
    if not isinstance(inner, dict) or set(inner) != {"anyOf"}:
        return False
    return all(
        isinstance(item, dict) and set(item) == {"required"} and isinstance(item["required"], list)
        for item in inner["anyOf"]
    )


def choice_errors(
    choices: tuple[Choice, ...], arguments: dict[str, Any], where: str
) -> list[dict[str, str]]:
    """An ``invalid_arguments`` error for every choice the arguments break."""
    if not choices:
        return []
    given = frozenset(name for name, value in arguments.items() if value is not None)
    # ``where`` is empty at the top, or the record's place below its field ("." or "[2].").
    field = where.rstrip(".") if where else "$"
    return [
        {"field": field, "message": message}
        for choice in choices
        if (message := choice.problem(given)) is not None
    ]
