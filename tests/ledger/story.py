"""Helpers for ledger stories: a ``Ledger`` that runs operations in their own unit of work at the test clock's
time, and ``issue_batch``: a registered project with one issued batch."""

from __future__ import annotations

import itertools
from datetime import date
from decimal import Decimal

from sqlalchemy import select
from sqlmodel import Session

from backend.certificates.service import certifier
from backend.privacy.fingerprint import key_from
from backend.db import atomic
from backend.ledger import operations as op
from backend.ledger.models import LedgerAccount, SerialRange
from backend.registry import service

TONNE = 1_000_000


class Ledger:
    def __init__(self, app, clock) -> None:
        self.engine = app.extensions["db_engine"]
        self.clock = clock
        self.certify = certifier(app.extensions["cert_keys"], "碳汇+ (test)", key_from(app.config["SECRET_KEY"]))
        self._keys = itertools.count(1)

    def key(self, prefix: str = "op") -> str:
        return f"{prefix}-{next(self._keys)}"

    def __call__(self, operation, *, actor: str = "operator", client_id: str | None = None, **kwargs):
        client_id = client_id or self.key(operation.__name__)
        if operation is op.retire:
            kwargs.setdefault("certify", self.certify)
        return atomic(lambda s: operation(s, self.clock(), client_id=client_id, actor=actor, **kwargs),
                      engine=self.engine)

    def read(self, work):
        with Session(self.engine) as session:
            return work(session)

    def balance(self, holder: str, batch_id: int, kind: str = "available") -> int:
        def find(session):
            account = session.execute(select(LedgerAccount).where(
                LedgerAccount.holder == holder, LedgerAccount.batch_id == batch_id,
                LedgerAccount.kind == kind)).scalar_one_or_none()
            return 0 if account is None else account.balance_g
        return self.read(find)

    def ranges(self, holder: str, batch_id: int, kind: str = "available") -> list[tuple[int, int]]:
        return self.read(lambda s: [tuple(r) for r in s.execute(
            select(SerialRange.first, SerialRange.last).join(LedgerAccount, LedgerAccount.id == SerialRange.account_id)
            .where(LedgerAccount.holder == holder, LedgerAccount.batch_id == batch_id, LedgerAccount.kind == kind)
            .order_by(SerialRange.first)).all()])


def issue_batch(ledger: Ledger, quantity_g: int = 1_000 * TONNE, *, to_holder: str = "platform"):
    """A registered forest project with one batch of ``quantity_g`` issued to ``to_holder``."""
    def make(session):
        now = ledger.clock()
        methodology = service.create_methodology(session, now, actor="operator", code=ledger.key("AR-CM-003"),
                                                 name="森林经营碳汇项目方法学", ecosystem="forest", version="V01",
                                                 source_document="AR-CM-003-V01")
        owner = service.create_organisation(session, now, actor="operator", name="大邑县国有林场",
                                            kind="forest_farm")
        project = service.create_project(session, now, actor="operator", owner_id=owner.id, name="森林经营项目",
                                         county_adcode="510129", ecosystem="forest", methodology_id=methodology.id,
                                         area_mu=Decimal("35200"), crediting_start=date(2019, 1, 1),
                                         crediting_end=date(2038, 12, 31))
        service.decide(session, now, actor="operator", project_id=project.id, action="submit")
        service.decide(session, now, actor="operator", project_id=project.id, action="register")
        return service.create_batch(session, now, actor="operator", client_id=ledger.key("issue"),
                                    project_id=project.id, monitoring_start=date(2019, 1, 1),
                                    monitoring_end=date(2023, 12, 31), vintage=2023, quantity_g=quantity_g,
                                    to_holder=to_holder)
    return atomic(make, engine=ledger.engine)
