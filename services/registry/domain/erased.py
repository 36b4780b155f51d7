"""What stands for an erased person in the audit log: a keyed digest of their id, never the id.

The audit log keeps what was done, when and by whom after a person is erased, but names no one:
their id becomes "(erased 1f0c...)", an HMAC-SHA256 of the id under the registry's audit key. The
table alone cannot be turned back into the id; someone holding the key (the registry, for an admin
who asks about an id) can still check whether a given id was touched. Pure functions; no I/O."""

from __future__ import annotations

import hashlib
import hmac
import re

# 24 hex digits (96 bits) of the digest: short enough to read, far too many to guess or collide.
DIGEST_LENGTH = 24


def erased_marker(key: bytes, leader_id: str) -> str:
    """The same marker for the same id and key; brackets and a space, so no leader id can look like it."""
    digest = hmac.new(key, leader_id.encode(), hashlib.sha256).hexdigest()[:DIGEST_LENGTH]
    return f"(erased {digest})"


def without_id(words: str, leader_id: str, marker: str) -> str:
    """The words with every whole mention of the id replaced by the marker: "pl-01" in "pl-018" is
    another person's id and stays; "pl-01." at the end of a sentence is theirs and goes."""
    whole = re.compile(r"(?<![A-Za-z0-9._-])" + re.escape(leader_id) + r"(?![A-Za-z0-9_-])(?!\.[A-Za-z0-9_-])")
    return whole.sub(marker, words)
