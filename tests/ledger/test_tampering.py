"""Rows changed behind the ledger's back are found, and the finding says where.

Each test makes a small, honest history, then edits the database directly the way a careless script or an
attacker might, and expects ``invariants.check`` to name what broke. The totals-only checks cannot see these
edits (amounts still add up); replaying the history and comparing with the audit chain can.
"""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from backend.db import snapshot
from backend.ledger import operations as op
from backend.ledger.invariants import check
from tests import tampering
from tests.ledger.story import issue_batch

pytestmark = pytest.mark.tampers


@pytest.fixture
def story(ledger):
    """100 g: serials 1–10 retired for 张三, 11–20 sent to org:1, 21–100 in the platform's inventory."""
    batch = issue_batch(ledger, quantity_g=100)
    retirement = ledger(op.retire, batch_id=batch.id, holder="platform", amount_g=10, purpose="personal",
                        beneficiary_name="张三")
    sent = ledger(op.transfer, batch_id=batch.id, from_holder="platform", to_holder="org:1", amount_g=10)
    assert ledger.read(check) == []
    return batch, retirement, sent


def tamper(ledger, sql: str, **params) -> None:
    tampering.tamper(ledger.engine, sql, rows=None, **params)


def found(ledger) -> list[str]:
    with snapshot(ledger.engine) as session:
        return [str(v) for v in check(session)]


def test_a_retirements_recorded_serials_shifted_elsewhere(ledger, story):
    batch, retirement, _ = story
    tamper(ledger, "UPDATE transfer_range SET first = first + 50, last = last + 50 WHERE transfer_id = :t",
           t=retirement.transfer_id)
    # Replayed, the history now retires 51–60 (the platform did hold them then) and leaves 1–10 with the
    # platform; the stored rows say otherwise, and the audit chain recorded 1–10.
    assert found(ledger) == [
        f"[history_holdings] batch {batch.code}: stored holdings differ from the replayed history; first "
        f"difference: the history has serials 1–10 held by account {retirement_source(ledger, batch)} "
        f"(platform/available), the stored rows have 1–10 held by account {retired_account(ledger, batch)} "
        f"(platform/retired)",
        f"[audit_trail] transfer {retirement.transfer_id} (RETIRE) of batch {batch.id} no longer matches its audit "
        f"event in: ranges",
        f"[certificate] certificate TH2026-00000001 (retirement {retirement.id}) disagrees with the retirement on: "
        f"serials"]


def retirement_source(ledger, batch) -> int:
    return ledger.read(lambda s: op.engine.accounts_of(s, "platform", batch.id, ("available",),
                                                       now=ledger.clock()))["available"].id


def retired_account(ledger, batch) -> int:
    return ledger.read(lambda s: op.engine.accounts_of(s, "platform", batch.id, ("retired",),
                                                       now=ledger.clock()))["retired"].id


def test_two_holdings_swapped_with_the_amounts_unchanged(ledger, story):
    """org:1 ends up with 21–30 and the platform with 11–20: every balance still adds up."""
    batch, _, _ = story
    tamper(ledger, "UPDATE serial_range SET first = 31 WHERE batch_id = :b AND first = 21", b=batch.id)
    tamper(ledger, "UPDATE serial_range SET first = 21, last = 30 WHERE batch_id = :b AND first = 11", b=batch.id)
    tamper(ledger, "INSERT INTO serial_range (batch_id, account_id, first, last) SELECT batch_id, account_id, 11, 20 "
                   "FROM serial_range WHERE batch_id = :b AND first = 31", b=batch.id)
    lines = found(ledger)
    assert [line for line in lines if not line.startswith("[history_holdings]")] == [], lines
    assert any("first difference: the history has serials 11–20 held by" in line and "(org:1/available)" in line
               for line in lines), lines


def test_a_retirement_rewritten_to_another_purpose_and_person(ledger, story):
    _, retirement, _ = story
    tamper(ledger, "UPDATE retirement SET purpose = 'judicial', beneficiary_masked = '李*' WHERE id = :r",
           r=retirement.id)
    assert found(ledger) == [
        f"[audit_trail] transfer {retirement.transfer_id} (RETIRE) of batch {retirement.batch_id} no longer matches "
        "its audit event in: beneficiary_masked, purpose",
        f"[certificate] certificate TH2026-00000001 (retirement {retirement.id}) disagrees with the retirement on: "
        "purpose, beneficiary"]


def test_a_kept_full_name_changed_no_longer_opens_the_certificates_commitment(ledger, story):
    """The full name is kept erasable, outside history; rewriting it is caught by the commitment it must open."""
    _, retirement, _ = story
    tamper(ledger, "UPDATE beneficiary_name SET full_name = '李四' WHERE retirement_id = :r", r=retirement.id)
    assert found(ledger) == [f"[certificate] certificate TH2026-00000001 (retirement {retirement.id}): the kept name "
                             "and salt do not open its commitment"]


def test_a_beneficiary_record_erased_by_half_is_named(ledger, story):
    _, retirement, _ = story
    tamper(ledger, "UPDATE beneficiary_name SET full_name = NULL WHERE retirement_id = :r", r=retirement.id)
    assert found(ledger) == [f"[certificate] certificate TH2026-00000001 (retirement {retirement.id}): beneficiary "
                             "record half erased"]


def test_a_transfer_redirected_with_its_balances_made_to_fit(ledger, story):
    """Someone moves org:1's 10 g to org:2 by editing the transfer, both accounts and the serials consistently."""
    batch, _, sent = story
    ledger(op.transfer, batch_id=batch.id, from_holder="platform", to_holder="org:2", amount_g=1)
    org2 = ledger.read(lambda s: op.engine.accounts_of(s, "org:2", batch.id, ("available",), now=ledger.clock()))
    org2_id = org2["available"].id
    tamper(ledger, "UPDATE ledger_account SET credits_g = credits_g - 10 WHERE id = :a", a=sent.credit_account_id)
    tamper(ledger, "UPDATE ledger_account SET credits_g = credits_g + 10 WHERE id = :a", a=org2_id)
    tamper(ledger, "UPDATE serial_range SET account_id = :a WHERE account_id = :old", a=org2_id,
           old=sent.credit_account_id)
    tamper(ledger, "UPDATE transfer SET credit_account_id = :a WHERE id = :t", a=org2_id, t=sent.id)
    lines = found(ledger)
    assert lines == [f"[audit_trail] transfer {sent.id} (TRANSFER) of batch {batch.id} no longer matches its audit "
                     "event in: to"], lines


def test_an_earmark_on_serials_that_are_not_reserved(ledger, story):
    batch, _, sent = story
    tamper(ledger, "UPDATE serial_range SET reservation_id = :t WHERE batch_id = :b AND first = 11", t=sent.id,
           b=batch.id)
    lines = found(ledger)
    assert any(line.startswith(f"[history_holdings] batch {batch.code}") for line in lines), lines


@pytest.mark.services_only
def test_postgresql_itself_refuses_to_rewrite_history(ledger, story):
    """Without switching the triggers off, the database refuses to edit or delete a transfer or an audit event."""
    _, retirement, _ = story
    for statement in (f"UPDATE transfer SET amount_g = 1 WHERE id = {retirement.transfer_id}",
                      f"DELETE FROM transfer_range WHERE transfer_id = {retirement.transfer_id}",
                      f"UPDATE retirement SET purpose = 'other' WHERE id = {retirement.id}",
                      "DELETE FROM audit_event"):
        with pytest.raises(IntegrityError, match="append-only"):
            with ledger.engine.begin() as connection:
                connection.execute(text(statement))
    assert found(ledger) == []
