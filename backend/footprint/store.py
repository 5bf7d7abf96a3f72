"""Factor sets in the database: load the shipped files (at start-up) or a reviewer's files (the console) as a new
numbered set when their text is new, and read any set back by number. The current set is the newest one.
Parsed sets are kept per process by content hash: a set never changes once stored."""

from __future__ import annotations

from datetime import datetime
from threading import Lock

from sqlalchemy import func, select
from sqlmodel import Session

from backend import audit
from backend.errors import Conflict, InvalidInput
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


def load_files(session: Session, files: dict[str, str], now: datetime) -> tuple[FactorSet, bool]:
    """The files as a numbered set, storing them as the next number if no set has this content.

    Returns the set and whether it was new. Two processes racing store one row: the loser's insert fails on
    the unique hash (or number) and ``atomic`` retries, finding the winner's.
    """
    sha256 = library.files_sha256(files)
    found = session.execute(select(FactorSetRecord.number).where(FactorSetRecord.sha256 == sha256)).scalar()
    if found is not None:
        return _numbered(sha256, found, files, session), False
    parsed = library.parse(files)  # a broken file fails here, before anything is stored
    number = (newest_number(session) or 0) + 1
    session.add(FactorSetRecord(number=number, sha256=sha256, files=files, summary=parsed.summary, loaded_at=now))
    session.flush()
    return _numbered(sha256, number, files, session), True


def load_packaged(session: Session, now: datetime) -> tuple[FactorSet, bool]:
    """The shipped files as a numbered set (``load_files``): what start-up and ``flask footprint load`` do."""
    return load_files(session, library.packaged_files(), now)


def newest_number(session: Session) -> int | None:
    return session.execute(select(func.max(FactorSetRecord.number))).scalar()


def newest(session: Session) -> FactorSet:
    """The current set: the one loaded last, whether from the shipped files or by a reviewer."""
    number = newest_number(session)
    if number is None:
        raise LookupError("no factor set is stored")
    return get_set(session, number)


def files_of(session: Session, number: int, *, field: str = "factor_set") -> dict[str, str]:
    """A stored set's files, their exact text: file name → text."""
    files = session.execute(select(FactorSetRecord.files).where(FactorSetRecord.number == number)).scalar()
    if files is None:
        raise InvalidInput(field, f"没有第 {number} 号排放因子集 (no factor set {number})")
    return files


def load_reviewed(session: Session, now: datetime, *, base: int, uploaded: dict[str, str], actor: str,
                  note: str = "") -> tuple[FactorSet, bool]:
    """A reviewer's files as the next set, exactly as start-up stores changed shipped files (``load_files``): the
    files given replace the same files of set ``base``, which must still be the current set (else two reviewers'
    changes would silently replace each other), and the set is parsed and checked by the library's one loader.

    Returns the set and whether it was new: files whose text makes a set already stored (any number) store nothing
    and write no event. A new set is audited as ``footprint.factor_set_load`` by ``actor``.
    """
    current = newest_number(session)
    if current != base:
        raise Conflict(f"第 {base} 号之后已载入第 {current} 号因子集，请在最新的集上重新载入 (set {current} was "
                       f"loaded after set {base}: load your files on the current set)",
                       details={"base": base, "current": current})
    unknown = sorted(set(uploaded) - set(library.DATA_FILES))
    if unknown:
        raise InvalidInput(unknown[0], "不是因子库的数据文件 (not a file of the factor library)")
    before = files_of(session, base, field="base")
    # The data files only, as start-up stores them: a retired file an old base still holds is not carried over.
    files = {name: uploaded.get(name, before.get(name)) for name in library.DATA_FILES}
    try:
        loaded, new = load_files(session, files, now)
    except library.DataFileError as error:
        where = f"第 {error.line} 行：" if error.line else ""
        raise InvalidInput(error.file, f"{where}{error.problem}") from None
    if new:
        audit.append(session, now, actor=actor, action="footprint.factor_set_load", object_type="factor_set",
                     object_id=loaded.number,
                     after={"number": loaded.number, "sha256": loaded.sha256, "base": base,
                            "files": sorted(name for name in library.DATA_FILES if files[name] != before.get(name)),
                            "summary": loaded.summary, "note": note})
    return loaded, new


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
