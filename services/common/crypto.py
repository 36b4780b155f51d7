"""Encryption at rest for special-category data and contact details.

Keys are Fernet keys (AES with an integrity check). Give several, comma
separated, to rotate: the first encrypts, all decrypt. `pairing new-key`
prints a fresh key.
"""

from __future__ import annotations

import json
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet


class EncryptionKeyError(ValueError):
    pass


class Cipher:
    def __init__(self, keys: str):
        parts = [k.strip() for k in keys.split(",") if k.strip()]
        if not parts:
            raise EncryptionKeyError("no encryption key given; run `pairing new-key` and put the key in the setting")
        try:
            self._fernet = MultiFernet([Fernet(k.encode()) for k in parts])
        except (ValueError, TypeError) as exc:
            raise EncryptionKeyError("an encryption key is not a valid key; make one with `pairing new-key`") from exc

    def seal(self, data: dict[str, Any]) -> bytes:
        return self._fernet.encrypt(json.dumps(data, sort_keys=True, default=str).encode())

    def open(self, token: bytes) -> dict[str, Any]:
        try:
            return json.loads(self._fernet.decrypt(token))
        except InvalidToken as exc:
            raise EncryptionKeyError("stored data cannot be read with the configured keys; was a key removed too early?") from exc

    def seal_bytes(self, data: bytes) -> bytes:
        """Encrypt raw bytes as they are (an event body already serialised), with no JSON round trip."""
        return self._fernet.encrypt(data)

    def open_bytes(self, token: bytes) -> bytes:
        try:
            return self._fernet.decrypt(token)
        except InvalidToken as exc:
            raise EncryptionKeyError("stored data cannot be read with the configured keys; was a key removed too early?") from exc

    def rotate(self, token: bytes) -> bytes:
        return self._fernet.rotate(token)


def is_plain_json(value: bytes) -> bool:
    """A body written before outbox bodies were encrypted: JSON object text. A Fernet token never
    starts with `{` (it is URL-safe base64 and begins with `gAAAAA`)."""
    return value[:1] == b"{"


def new_key() -> str:
    return Fernet.generate_key().decode()
