"""Factor sets in the database: load the shipped files as a new numbered set when they changed, and read any
set back by number. Parsed sets are kept per process by content hash: a set never changes once stored."""

from __future__ import annotations

from datetime import datetime
from threading import Lock

from sqlalchemy import func, select
from sqlmodel import Session

from backend.errors import InvalidInput
from backend.footprint import library
from backend.footprint.library import FactorSet
from backend.footprint.models import FactorSetRecord

_parsed: dict[tuple[str, int], FactorSet] = {}
_lock = Lock()


def _numbered(sha256: str, number: int, files: dict[str, str] | None, session: Session) -> FactorSet:
    key = (sha256, number)
    if key not in _parsed:
        if files is None:
            files = session.execute(select(FactorSetRecord.files)
                                    .where(FactorSetRecord.number == number)).scalar_one()
        parsed = library.parse(files)
        if parsed.sha256 != sha256:
            raise RuntimeError(f"factor set {number} does not hash to its recorded sha256")
        with _lock:
            _parsed[key] = parsed.numbered(number)
    return _parsed[key]


def load_packaged(session: Session, now: datetime) -> tuple[FactorSet, bool]:
    """The shipped files as a numbered set, storing them as the next number if no set has this content.

    Returns the set and whether it was new. Two processes racing store one row: the loser's insert fails on
    the unique hash and ``atomic`` retries, finding the winner's.
    """
    files = library.packaged_files()
    sha256 = library.files_sha256(files)
    found = session.execute(select(FactorSetRecord.number).where(FactorSetRecord.sha256 == sha256)).scalar()
    if found is not None:
        return _numbered(sha256, found, files, session), False
    parsed = library.parse(files)  # a broken file fails here, before anything is stored
    number = (session.execute(select(func.max(FactorSetRecord.number))).scalar() or 0) + 1
    session.add(FactorSetRecord(number=number, sha256=sha256, files=files, summary=parsed.summary, loaded_at=now))
    session.flush()
    return _numbered(sha256, number, files, session), True


def get_set(session: Session, number: int, *, field: str = "factor_set") -> FactorSet:
    sha256 = session.execute(select(FactorSetRecord.sha256).where(FactorSetRecord.number == number)).scalar()
    if sha256 is None:
        raise InvalidInput(field, f"没有第 {number} 号排放因子集 (no factor set {number})")
    return _numbered(sha256, number, None, session)


def list_sets(session: Session) -> list[dict]:
    rows = session.execute(select(FactorSetRecord.number, FactorSetRecord.sha256, FactorSetRecord.summary,
                                  FactorSetRecord.loaded_at).order_by(FactorSetRecord.number)).all()
    return [{"number": number, "sha256": sha256, "summary": summary, "loaded_at": loaded_at}
            for number, sha256, summary, loaded_at in rows]
