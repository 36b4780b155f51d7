"""Encryption at rest for special-category data and contact details.

Keys are Fernet keys (AES with an integrity check). Give several, comma
separated, to rotate: the first encrypts, all decrypt. `pairing new-key`
prints a fresh key.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

# Said by the command line as it is (`pairing rekey`, a service starting), so a whole sentence.
UNREADABLE = "Stored data cannot be read with the configured keys. Was a key removed too early? Put it back after the new one."


class EncryptionKeyError(ValueError):
    pass


class Cipher:
    def __init__(self, keys: str):
        parts = [k.strip() for k in keys.split(",") if k.strip()]
        if not parts:
            raise EncryptionKeyError("no encryption key given; run `pairing new-key` and put the key in the setting")
        try:
            self._fernet = MultiFernet([Fernet(k.encode()) for k in parts])
            first = base64.urlsafe_b64decode(parts[0].encode())
        except (ValueError, TypeError) as exc:
            raise EncryptionKeyError("an encryption key is not a valid key; make one with `pairing new-key`") from exc
        # The key of `digest`, derived from the key that encrypts (so rotating it rotates this too).
        self._digest_key = hmac.new(first, b"pairing: keyed digest of a sealed value", hashlib.sha256).digest()

    @staticmethod
    def plain(data: dict[str, Any]) -> bytes:
        """The text `seal` encrypts for `data`: JSON with its keys in order."""
        return json.dumps(data, sort_keys=True, default=str).encode()

    def seal(self, data: dict[str, Any]) -> bytes:
        return self._fernet.encrypt(self.plain(data))

    def digest(self, plain: bytes, token: bytes) -> str:
        """A keyed digest of the plain text sealed in `token`, bound to that token: stored beside it, it
        tells whether a value is the one sealed there without decrypting it (`seals`). Without the key
        it tells nothing; and a token rewritten without its digest (rotated, or changed by other code)
        no longer matches, so it is decrypted instead."""
        bound = hashlib.sha256(token).digest()
        return hmac.digest(self._digest_key, bound + plain, "sha256").hex()  # as hmac.new(...).hexdigest(), in one call

    def seals(self, plain: bytes, token: bytes, digest: str | None) -> bool:
        """Whether `token` holds exactly `plain`, by its stored `digest` (False when in doubt: decrypt it)."""
        return digest is not None and hmac.compare_digest(self.digest(plain, token), digest)

    def open(self, token: bytes) -> dict[str, Any]:
        try:
            return json.loads(self._fernet.decrypt(token))
        except InvalidToken as exc:
            raise EncryptionKeyError(UNREADABLE) from exc

    def seal_bytes(self, data: bytes) -> bytes:
        """Encrypt raw bytes as they are (an event body already serialised), with no JSON round trip."""
        return self._fernet.encrypt(data)

    def open_bytes(self, token: bytes) -> bytes:
        try:
            return self._fernet.decrypt(token)
        except InvalidToken as exc:
            raise EncryptionKeyError(UNREADABLE) from exc

    def rotate(self, token: bytes) -> bytes:
        try:
            return self._fernet.rotate(token)
        except InvalidToken as exc:
            raise EncryptionKeyError(UNREADABLE) from exc


def is_plain_json(value: bytes) -> bool:
    """A body written before outbox bodies were encrypted: JSON object text. A Fernet token never
    starts with `{` (it is URL-safe base64 and begins with `gAAAAA`)."""
    return value[:1] == b"{"


def new_key() -> str:
    return Fernet.generate_key().decode()
