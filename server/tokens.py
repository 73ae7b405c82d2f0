"""Secrets handed to clients (bearer tokens, cart tokens, handoff codes); only hashes are kept.

Tokens are 256 bits from ``secrets`` with a short kind prefix (``cs_`` customer session,
``dv_`` device, ``ct_`` cart, ``ss_`` staff session), so a leaked one is recognisable and
the viewer knows which table to look in. At that entropy a plain SHA-256 is a safe stored
form.

Handoff codes are short enough to read aloud, so they are hashed with HMAC under the
server's secret key: a copy of the database alone does not let anyone brute-force them.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

CUSTOMER_SESSION_PREFIX = "cs_"
DEVICE_PREFIX = "dv_"
CART_PREFIX = "ct_"
STAFF_SESSION_PREFIX = "ss_"
_TOKEN_BYTES = 32
# Longest token accepted from a client; anything longer is not one of ours.
MAX_TOKEN_LENGTH = 128

# Crockford's base32 alphabet without 0, 1 (and so without O, I, L, U, which Crockford
# already drops): nothing on a phone screen can be misread as something else.
HANDOFF_ALPHABET = "23456789ABCDEFGHJKMNPQRSTVWXYZ"
HANDOFF_LENGTH = 8  # 30**8 ≈ 6.6e11 codes, about 39 bits


def new_token(prefix: str) -> str:
    """Return a fresh random bearer token of the given kind."""
    return prefix + secrets.token_urlsafe(_TOKEN_BYTES)


def token_hash(token: str) -> str:
    """Return the stored form of a 256-bit token (hex SHA-256)."""
    return hashlib.sha256(token.encode()).hexdigest()


def new_handoff_code() -> str:
    """Return a fresh handoff code in canonical form (upper case, no separator)."""
    return "".join(secrets.choice(HANDOFF_ALPHABET) for _ in range(HANDOFF_LENGTH))


def normalise_handoff_code(text: str) -> str | None:
    """Return the canonical form of a typed or scanned code, or None when it cannot be one.

    Case, spaces and dashes do not matter, so ``k7qm-3xpa`` and ``K7QM 3XPA`` are one code.
    """
    code = "".join(ch for ch in text.upper() if ch not in " -\t")
    if len(code) != HANDOFF_LENGTH or any(ch not in HANDOFF_ALPHABET for ch in code):
        return None
    return code


def display_handoff_code(code: str) -> str:
    """Return a canonical code as shown to people: two groups of four, ``K7QM-3XPA``."""
    half = HANDOFF_LENGTH // 2
    return f"{code[:half]}-{code[half:]}"


def handoff_code_hash(code: str, secret_key: str) -> str:
    """Return the stored form of a canonical handoff code (HMAC-SHA-256 under the secret)."""
    return hmac.new(secret_key.encode(), code.encode(), hashlib.sha256).hexdigest()
