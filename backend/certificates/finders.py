"""Finding certificates by a scenario's record: a court case by its 案号, for the console's certificate search.

A scenario that issues certificates for its records registers a finder when the app starts, as it registers its
overdue counter (backend/overdue.py), so the console names no scenario itself. A finder turns what an operator
typed into the ids of the certificates that record's purchases and documents carry, precisely through the
scenario's own tables — not by the reference a certificate shows, which may be masked and shared by several records.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import Select


@dataclass(frozen=True)
class Finder:
    key: str
    """The search's query argument (``case``): an InvalidInput about the typed text names it."""
    label: str
    """What the search field is called (案号)."""
    hint: str
    certificate_ids: Callable[[str], Select]
    """The typed text → a SELECT of certificate ids; InvalidInput(key, …) when the text is not such a reference."""


FINDERS: dict[str, Finder] = {}


def register(finder: Finder) -> None:
    FINDERS[finder.key] = finder
