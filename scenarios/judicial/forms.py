"""The new-case form of the /org/ pages, read into the same ``CaseIn`` the JSON API validates.

A form is flat text: the loss's fields are named ``loss.<field>`` (all three methods' fields are on the page, the
``loss.method`` radio says which count), the payers are rows ``payers.<row>.name`` / ``payers.<row>.share_percent``
of which the empty ones are skipped, and a money loss is typed in yuan. A refusal names the form's own fields, so
each message can stand beside the input it is about.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

from pydantic import ValidationError

from backend.errors import DomainError, InvalidInput
from backend.http import refuse_nul, validation_error
from backend.staff.web import field_errors
from scenarios.judicial import schemas

PAYER_ROWS = 5
LOSS_FIELDS = {"appraisal": ("tonnes", "appraisal_body", "report_no"), "calculation": ("calculation_id",),
               "money": ("basis",)}
YUAN = "loss.amount_yuan"
MAX_YUAN = Decimal(1_000_000_000)  # schemas.MoneyLoss.amount_fen's ceiling, in yuan


def _text(form: Mapping[str, str], name: str) -> str | None:
    value = form.get(name, "").strip()
    return value or None


def _fen_of_yuan(text: str) -> int:
    try:
        yuan = Decimal(text.replace(",", "").replace("，", ""))
    except InvalidOperation:
        yuan = None
    # Bounded before quantize: 1e30 has more digits than the decimal context holds (InvalidOperation, a 500).
    if yuan is None or not yuan.is_finite() or not 0 < yuan <= MAX_YUAN or yuan != yuan.quantize(Decimal("0.01")):
        raise InvalidInput(YUAN, "应为 0.01 至 10 亿元之间的金额，最多两位小数，如 12000.50 (yuan, up to the fen)")
    return int(yuan * 100)


def case_in(form: Mapping[str, str]) -> schemas.CaseIn:
    """The case the form describes, or InvalidInput naming the form's fields."""
    body: dict[str, Any] = {name: value for name in ("case_no", "cause", "cause_note", "damage_region", "multiplier",
                                                     "rounding", "deadline", "org_id")
                            if (value := _text(form, name)) is not None}
    method = _text(form, "loss.method") or "appraisal"
    loss: dict[str, Any] = {"method": method}
    for name in LOSS_FIELDS.get(method, ()):
        if (value := _text(form, f"loss.{name}")) is not None:
            loss[name] = value
    if method == "money" and (yuan := _text(form, YUAN)) is not None:
        loss["amount_fen"] = _fen_of_yuan(yuan)
    body["loss"] = loss
    rows = [row for row in range(PAYER_ROWS)
            if _text(form, f"payers.{row}.name") or _text(form, f"payers.{row}.share_percent")]
    body["payers"] = [{name: value for name in ("name", "share_percent")
                       if (value := _text(form, f"payers.{row}.{name}")) is not None} for row in rows]
    body["publish_case_no"] = "publish_case_no" in form
    try:
        parsed = schemas.CaseIn.model_validate(body)
    except ValidationError as error:
        raise _named_as_in_the_form(validation_error(error), rows) from None
    refuse_nul(parsed.model_dump())
    return parsed


def _named_as_in_the_form(error: InvalidInput, rows: list[int]) -> InvalidInput:
    """``loss.appraisal.tonnes`` → ``loss.tonnes``; the n-th payer given → the form's row; fen → the yuan field."""
    def rename(field: str) -> str:
        parts = field.split(".")
        if parts[0] == "loss" and len(parts) > 2 and parts[1] in LOSS_FIELDS:
            parts = ["loss", *parts[2:]]
        if parts == ["loss", "amount_fen"]:
            return YUAN
        if parts[0] == "payers" and len(parts) > 1 and parts[1].isdigit() and int(parts[1]) < len(rows):
            parts[1] = str(rows[int(parts[1])])
        return ".".join(parts)
    error.details = [{**item, "field": rename(item["field"])} for item in error.details]
    error.field = error.details[0]["field"]
    error.message = f"{error.field}: {error.details[0]['message']}"
    return error


def errors_by_field(error: DomainError | None) -> dict[str, str]:
    """{form field: message}; a case number the court already registered is said beside the case number."""
    if error is not None and error.code == "case_exists":
        return {"case_no": error.message}
    return field_errors(error)
