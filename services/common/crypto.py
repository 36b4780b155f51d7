"""Encryption at rest for special-category data and contact details.

Keys are written as Fernet keys (32 random bytes in URL-safe base64). Give
several, comma separated, to rotate: the first encrypts, all decrypt.
`pairing new-key` prints a fresh key.

Values are sealed with AES-256-GCM (encryption with an integrity check in one
pass) under a key derived from each configured key: a token is a version byte,
a random 96-bit nonce, then the ciphertext and its tag. It replaced Fernet
tokens (AES-CBC with HMAC-SHA256 in base64), which cost three to four times as
much to make and open; those are still read, and `pairing rekey` rewrites them.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import os
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

# Said by the command line as it is (`pairing rekey`, a service starting), so a whole sentence.
UNREADABLE = "Stored data cannot be read with the configured keys. Was a key removed too early? Put it back after the new one."


# The first byte of a token sealed with AES-GCM. A Fernet token starts with "g" (base64 of its own
# version byte) and plain JSON with "{", so each kind is told by its first byte.
SEALED_V2 = b"\x02"
NONCE = 12  # bytes: random for each value, so about four billion values a key is safe


class EncryptionKeyError(ValueError):
    pass


class Cipher:
    def __init__(self, keys: str):
        parts = [k.strip() for k in keys.split(",") if k.strip()]
        if not parts:
            raise EncryptionKeyError("no encryption key given; run `pairing new-key` and put the key in the setting")
        try:
            self._fernet = MultiFernet([Fernet(k.encode()) for k in parts])  # opens tokens sealed before AES-GCM
            raw = [base64.urlsafe_b64decode(k.encode()) for k in parts]
        except (ValueError, TypeError) as exc:
            raise EncryptionKeyError("an encryption key is not a valid key; make one with `pairing new-key`") from exc
        # Each key's own AES-256 key, derived from it for this use alone; the first seals, all open.
        self._aead = [AESGCM(hmac.digest(key, b"pairing: AES-GCM key for sealed values", "sha256")) for key in raw]
        # The key of `digest`, derived from the key that encrypts (so rotating it rotates this too).
        self._digest_key = hmac.new(raw[0], b"pairing: keyed digest of a sealed value", hashlib.sha256).digest()

    @staticmethod
    def plain(data: dict[str, Any]) -> bytes:
        """The text `seal` encrypts for `data`: JSON with its keys in order."""
        return json.dumps(data, sort_keys=True, default=str).encode()

    def seal(self, data: dict[str, Any]) -> bytes:
        return self.seal_bytes(self.plain(data))

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
        return json.loads(self.open_bytes(token))

    def seal_bytes(self, data: bytes) -> bytes:
        """Encrypt raw bytes as they are (an event body already serialised), with no JSON round trip."""
        nonce = os.urandom(NONCE)
        return SEALED_V2 + nonce + self._aead[0].encrypt(nonce, data, None)

    def open_bytes(self, token: bytes) -> bytes:
        if token[:1] != SEALED_V2:
            try:
                return self._fernet.decrypt(token)
            except InvalidToken as exc:
                raise EncryptionKeyError(UNREADABLE) from exc
        nonce, sealed = token[1 : 1 + NONCE], token[1 + NONCE :]
        for aead in self._aead:
            try:
                return aead.decrypt(nonce, sealed, None)
            except (InvalidTag, ValueError):  # another key's, or cut short
                continue
        raise EncryptionKeyError(UNREADABLE)

    def seal_text(self, data: bytes) -> str:
        """`seal_bytes` as text, for a token that travels in an event's JSON."""
        return binascii.b2a_base64(self.seal_bytes(data), newline=False).decode()

    def open_text(self, token: str) -> bytes:
        """What `seal_text` sealed; a Fernet token (text already) as it is."""
        try:
            raw = token.encode() if token.startswith("gAAAAA") else binascii.a2b_base64(token)
        except ValueError as exc:  # not base64 (binascii.Error is one), or not ASCII text
            raise EncryptionKeyError(UNREADABLE) from exc
        return self.open_bytes(raw)

    def rotate(self, token: bytes) -> bytes:
        """The value sealed again with the first key (and as AES-GCM, if it was a Fernet token)."""
        return self.seal_bytes(self.open_bytes(token))


def is_plain_json(value: bytes) -> bool:
    """A body written before outbox bodies were encrypted: JSON object text. A token never starts
    with `{` (SEALED_V2, or a Fernet token's `gAAAAA`)."""
    return value[:1] == b"{"


def new_key() -> str:
    return Fernet.generate_key().decode()
