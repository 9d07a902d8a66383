"""`when:` blocks compiled once at load: a rule list indexed by model, and one cheap test each.

`subjects`, `models` and `metadata` are ANDed and a missing field does not filter (DESIGN 6).
A `team:<name>` subject matches every caller in that team. Indexing by model means a request
only looks at the rules that can match its model, whatever the number of rules configured.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Generic, Protocol, TypeVar

from core.auth import Principal


@dataclass(frozen=True, slots=True)
class Matcher:
    """A compiled `when:`; None fields do not filter."""

    subjects: frozenset[str] | None = None
    models: frozenset[str] | None = None
    metadata: tuple[tuple[str, str], ...] = ()

    def matches(self, principal: Principal, metadata: Mapping[str, str]) -> bool:
        """Whether the caller and metadata match (the model was matched by the index)."""
        subjects = self.subjects
        if (
            subjects is not None
            and principal.subject not in subjects
            and not any(team in subjects for team in principal.teams)
        ):
            return False
        return all(metadata.get(key) == value for key, value in self.metadata)


class _HasMatcher(Protocol):
    @property
    def matcher(self) -> Matcher: ...


R = TypeVar("R", bound=_HasMatcher)


class RuleIndex(Generic[R]):
    """Rules in config order, looked up by model: `for_model` is one dict lookup."""

    __slots__ = ("_any_model", "_by_model")

    def __init__(self, rules: Sequence[R]) -> None:
        named = {
            m for rule in rules if rule.matcher.models is not None for m in rule.matcher.models
        }
        self._any_model: tuple[R, ...] = tuple(r for r in rules if r.matcher.models is None)
        self._by_model: dict[str, tuple[R, ...]] = {
            model: tuple(r for r in rules if r.matcher.models is None or model in r.matcher.models)
            for model in named
        }

    def for_model(self, model: str) -> tuple[R, ...]:
        """The rules that may match a request for `model`, in config order."""
        return self._by_model.get(model, self._any_model)

    def matching(self, model: str, principal: Principal, metadata: Mapping[str, str]) -> list[R]:
        """Every rule that matches, in config order."""
        return [r for r in self.for_model(model) if r.matcher.matches(principal, metadata)]

    def first(self, model: str, principal: Principal, metadata: Mapping[str, str]) -> R | None:
        """The first rule that matches, or None."""
        for rule in self.for_model(model):
            if rule.matcher.matches(principal, metadata):
                return rule
        return None

    def __bool__(self) -> bool:
        return bool(self._any_model or self._by_model)
