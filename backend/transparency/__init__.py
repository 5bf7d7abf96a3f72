"""The transparency log of certificate digests (RFC 6962-style Merkle tree)."""
