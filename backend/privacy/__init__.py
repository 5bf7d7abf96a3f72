"""Personal data that must be erasable (PIPL), kept apart from the append-only history so that erasing it leaves
the ledger, the audit chain, the transparency log and every certificate verifiable (DESIGN.md §10).

- A retirement's beneficiary is public only masked (张*). The full name and the salt of the certificate's
  commitment to it (SHA-256 of ``salt:name``) live in ``beneficiary_name``, a mutable table: erasure blanks both,
  and what remains — the masked name, the commitment, the signature — still verifies and identifies no one.
- Where a name must be compared without being kept readable (a retirement's idempotency hash), it is a keyed
  fingerprint (HMAC), so a copy of the database cannot confirm a guessed name.
- A citizen's account (``DELETE /api/mp/v1/me``) is anonymised in place: its row stays because the ledger and
  orders refer to ``user:<id>``, but nothing in it names or reaches the person any more.
"""
