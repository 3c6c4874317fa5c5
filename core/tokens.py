"""Secret links: a token with 256 random bits, of which only the SHA-256 is stored, so a leaked database
does not open anyone's private page (docs/adr/0005-hashed-private-link-tokens.md)."""

from __future__ import annotations

import hashlib
import secrets


def new_token() -> tuple[str, str]:
    """A fresh token and its hash: the token goes to the person once, the hash to the database."""
    token = secrets.token_urlsafe(32)
    return token, hash_token(token)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()
