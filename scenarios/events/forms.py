"""The new-event form of the /org/ pages, read into the same ``EventIn`` the JSON API validates.

A form is flat text: a field left empty is a field not given (venue name, area and, for someone acting for one
organiser only, the organisation), so the model's own defaults and bounds decide, and a refusal names the form's
fields — the same names as the JSON's — so each message stands beside the input it is about.
"""

from __future__ import annotations

from collections.abc import Mapping

from pydantic import ValidationError

from backend.http import refuse_nul, validation_error
from scenarios.events import schemas

FIELDS = ("name", "kind", "starts_on", "ends_on", "venue_region", "venue_name", "expected_participants", "area_m2",
          "org_id")


def event_in(form: Mapping[str, str]) -> schemas.EventIn:
    """The event the form describes, or InvalidInput naming the form's fields."""
    given = {name: value for name in FIELDS if (value := form.get(name, "").strip())}
    try:
        parsed = schemas.EventIn.model_validate(given)
    except ValidationError as error:
        raise validation_error(error) from None
    refuse_nul(parsed.model_dump())
    return parsed
