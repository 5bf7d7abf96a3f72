"""The transparency log's public API (RFC 6962 §4 in JSON): signed tree head, entries, inclusion and consistency
proofs. Hashes and signatures are hex."""

from __future__ import annotations

from flask import Blueprint, current_app
from pydantic import BaseModel, ConfigDict, Field

from backend import certificates
from backend.certificates.api import NUMBER
from backend.db import read
from backend.errors import InvalidInput, NotFound
from backend.http import Route, anchored, register
from backend.transparency.schemas import ConsistencyOut, EntriesOut, InclusionOut, TreeHeadOut
from backend.transparency import log

bp = Blueprint("transparency", __name__, url_prefix="/api/v1")
MAX_SIZE = 2**62


class Query(BaseModel):
    model_config = ConfigDict(extra="forbid")


class EntriesQuery(Query):
    start: int = Field(ge=0, le=MAX_SIZE)
    end: int = Field(ge=0, le=MAX_SIZE)


class ProofQuery(Query):
    tree_size: int | None = Field(default=None, ge=1, le=MAX_SIZE)


class ConsistencyQuery(Query):
    first: int = Field(ge=1, le=MAX_SIZE)
    second: int | None = Field(default=None, ge=1, le=MAX_SIZE)


def signed_tree_head():
    """The newest signed tree head: {tree_size, root_hash, timestamp (ms), signature, kid}."""
    ring, now = certificates.key_ring(), current_app.config["CLOCK"]()
    return read(lambda session: log.current_sth(session, ring, now))


def get_entries(query: EntriesQuery):
    """Leaves start..end inclusive (RFC 6962 get-entries), at most 1000 per answer."""
    if query.end < query.start:
        raise InvalidInput("end", "不能小于 start (must not be less than start)")
    return {"entries": read(lambda session: log.entries(session, query.start, query.end))}


def inclusion_proof(number: str, query: ProofQuery):
    """The certificate's audit path to the newest (or a given) signed tree head."""
    if not NUMBER.fullmatch(number):
        raise NotFound("证书不存在 (no such certificate)")
    try:
        return read(lambda session: log.inclusion(session, number, query.tree_size))
    except log.InclusionPending:  # signed moments ago: append what is queued now rather than make them wait
        log.merge_now(certificates.key_ring(), current_app.config["CLOCK"]())
        return read(lambda session: log.inclusion(session, number, query.tree_size))


def consistency_proof(query: ConsistencyQuery):
    """PROOF(first, second): the tree of size first is a prefix of the tree of size second (default: newest)."""
    return read(lambda session: log.consistency(session, query.first, query.second))


register(bp, [
    Route("GET", "/log/sth", signed_tree_head, "The newest signed tree head", tags=("public",),
          response=TreeHeadOut, errors=(503,)),
    Route("GET", "/log/entries", get_entries, "Log entries start..end (inclusive)", query=EntriesQuery,
          tags=("public",), response=EntriesOut,
          description="end must not be less than start, and start must be within the log (400 otherwise)."),
    Route("GET", "/log/consistency", consistency_proof, "Consistency proof between two tree sizes",
          query=ConsistencyQuery, tags=("public",), response=ConsistencyOut, errors=(404,),
          description="Both sizes must be sizes the log has had, first ≤ second (400 otherwise); an empty log has "
                      "no signed tree head (404)."),
    Route("GET", "/certificates/<number>/proof", inclusion_proof, "Inclusion proof of a certificate",
          query=ProofQuery, tags=("public",), response=InclusionOut, params={"number": anchored(NUMBER)},
          errors=(409, 503),
          description="tree_size must be a size the log has had that includes the certificate (400 otherwise). "
                      "A certificate signed moments ago is appended to the log by the sequencer within seconds "
                      "(at most SEAL_DELAY_SECONDS); asking for its proof appends what is queued at once, unless "
                      "another append is under way at that moment: then 409 inclusion_pending. 503 log_damaged if the "
                      "certificate is neither in the log nor queued for it (flask log verify names the damage)."),
])
