"""Secrets for machines: device passwords and API keys.

Machine secrets are 192-bit random tokens, so a fast hash (SHA-256) stored in the database is
enough to make a stolen database useless without making every request pay for a slow password
hash (people's passwords, by contrast, use argon2). Comparison is constant-time.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

__all__ = [
    "KEY_PREFIX",
    "hash_secret",
    "new_api_key",
    "new_secret",
    "split_api_key",
    "verify_secret",
]

KEY_PREFIX = "sdk"


def new_secret(nbytes: int = 24) -> str:
    """A URL-safe random secret (32 characters for the default 24 bytes)."""
    return secrets.token_urlsafe(nbytes)


def hash_secret(secret: str) -> str:
    """The stored form of a secret."""
    return "sha256$" + hashlib.sha256(secret.encode("utf-8")).hexdigest()


def verify_secret(secret: str, stored: str | None) -> bool:
    """True when ``secret`` matches the stored hash (constant-time)."""
    if not stored or not stored.startswith("sha256$"):
        return False
    return hmac.compare_digest(hash_secret(secret), stored)


def new_api_key() -> tuple[str, str, str]:
    """A new API key: (full key to give out once, public prefix, secret part)."""
    prefix = secrets.token_hex(4)
    secret = new_secret()
    return f"{KEY_PREFIX}_{prefix}_{secret}", prefix, secret


def split_api_key(key: str) -> tuple[str, str] | None:
    """(prefix, secret) of a well-formed key, else None.

    >>> split_api_key("sdk_0a1b2c3d_abcdefghijklmnopqrstuvwxyz012345")
    ('0a1b2c3d', 'abcdefghijklmnopqrstuvwxyz012345')
    >>> split_api_key("nonsense") is None
    True
    """
    parts = key.strip().split("_", 2)
    if len(parts) != 3 or parts[0] != KEY_PREFIX or len(parts[1]) != 8 or len(parts[2]) < 16:
        return None
    try:
        int(parts[1], 16)
    except ValueError:
        return None
    return parts[1], parts[2]
