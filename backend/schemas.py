"""What every response model shares. Handlers return dicts; these models say their shape in /openapi.json, and
the tests check every answer against it (tests/conftest.py), so the document cannot drift from the code.

Keys a model lists without a default are always present (a value may be null where the type says so); keys with
a default are present only sometimes. Answers may gain keys later: clients ignore keys they do not know.
"""

from __future__ import annotations

from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ConfigDict

T = TypeVar("T")
Json = dict[str, Any]


class Out(BaseModel):
    model_config = ConfigDict(extra="allow")


class Items(Out, Generic[T]):
    items: list[T]


class Revoked(Out):
    revoked: int


def changes_only(schema: dict[str, Any], model: type | None = None) -> None:
    """A PATCH body's schema: at least one field, and none null (the handler refuses an empty change and a null,
    which would erase what the model says cannot be empty). For ``json_schema_extra``."""
    schema["minProperties"] = 1
    for name, field in schema.get("properties", {}).items():
        options = [option for option in field.get("anyOf", ()) if option.get("type") != "null"]
        if "anyOf" in field and len(options) == 1:
            field.pop("anyOf")
            field.pop("default", None)
            field.update(options[0])
