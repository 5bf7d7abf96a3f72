"""Scenario purposes: how a scenario (scenarios/…) binds an order to its record, without the order flow knowing it.

A scenario registers itself for its purpose (``judicial``, ``event`` …) when the app starts. The order service then
asks it three things, each inside the order's own transaction:

- ``bind`` when the order is placed: is this record owed this quantity? It locks the record, so that two buyers
  of one record are checked one after the other, and answers the order's ``purpose_ref`` (``BindingRefused``, a
  4xx, when not);
- ``before_retire`` when the order is paid, before the ledger moves (a record is locked before the ledger's
  accounts, as in ``bind``: one lock order, no deadlock): still owed? (``NoLongerOwed``: the money goes back); it
  answers the retirement's reference and beneficiary;
- ``after_retire``, once retired: the record's progress, and its document when complete.

A scenario may price its orders (``prices_orders``: a tree-duty threshold is money, not grams), and may show a
document of its own as an order's certificate (``document_for``: the voucher the payment earned).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from sqlmodel import Session

from backend.errors import DomainError


@dataclass(frozen=True)
class Bound:
    """What a scenario answers for an order it accepts."""

    purpose_ref: str
    """Stored on the order: the record, in the scenario's words (``case-payer:12``)."""
    min_g: int
    """The smallest quantity it accepts (a last tail may be less than the shop's kilogram)."""
    on_created: Callable[[Session, Any], None] | None = None
    """Called with the order once it is stored: the scenario's own row about it (which tier, why …)."""


@dataclass(frozen=True)
class Due:
    """What a scenario that prices its orders (``prices_orders``) asks for: the amount, paid for ``shares`` equal
    parts (a staff list's people). The credits are what each part's money buys, rounded down to the gram."""

    amount_fen: int
    shares: int = 1


@dataclass(frozen=True)
class Retiring:
    """What a paid order retires as: the retirement's reference and beneficiary."""

    purpose_ref: str
    beneficiary_name: str


class NoLongerOwed(DomainError):
    """Paid, but the record no longer needs it (a late payment after others paid the rest): refunded."""

    status = 409
    code = "no_longer_owed"


class Scenario(Protocol):
    purpose: str
    reference_fields: tuple[str, ...]
    """The order request's fields that name the record (``claim_code``, ``event_id``)."""
    bounds_quantity: bool
    """``bind`` caps a citizen's order at what the record still needs (a case's owed part): the citizen's limit
    on unpaid grams (MP_MAX_RESERVED_G) then gives way to it. False: the citizen's limits apply as to any order."""

    prices_orders: bool
    """The record fixes the order's money (a tree-duty threshold) through ``due``; the request gives no quantity."""

    def canonical(self, reference: dict[str, Any]) -> dict[str, Any]:
        """The reference as the scenario spells it (a code typed in lower case …): what the request hash covers,
        so that one order retried with the same record typed differently is the same order."""
        ...

    def due(self, session: Session, now: datetime, *, reference: dict[str, Any], buyer: str) -> Due:
        """Only where ``prices_orders``: the amount the record asks for, under the lock ``bind`` takes."""
        ...

    def bind(self, session: Session, now: datetime, *, reference: dict[str, Any], buyer: str, listing_id: int,
             quantity_g: int, amount_fen: int, price_fen_per_t: int) -> Bound: ...

    def before_retire(self, session: Session, now: datetime, order: Any) -> Retiring: ...

    def after_retire(self, session: Session, now: datetime, order: Any, retirement: Any, certify: Any) -> None: ...


SCENARIOS: dict[str, Scenario] = {}


def register(scenario: Scenario) -> None:
    SCENARIOS[scenario.purpose] = scenario


def scenario_for(purpose: str) -> Scenario | None:
    return SCENARIOS.get(purpose)
