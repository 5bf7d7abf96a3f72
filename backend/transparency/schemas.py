"""Response shapes of the transparency log API (RFC 6962 §4 in JSON; hashes and signatures are hex)."""

from __future__ import annotations

from backend.schemas import Out


class TreeHeadOut(Out):
    tree_size: int
    root_hash: str
    timestamp: int
    signature: str
    kid: str


class Entry(Out):
    leaf_index: int
    certificate_no: str
    leaf_hash: str
    certificate_sha256: str


class EntriesOut(Out):
    entries: list[Entry]


class InclusionOut(Out):
    leaf_index: int
    tree_size: int
    leaf_hash: str
    audit_path: list[str]
    root_hash: str
    sth: TreeHeadOut


class ConsistencyOut(Out):
    first: int
    second: int
    first_root_hash: str
    second_root_hash: str
    consistency: list[str]
