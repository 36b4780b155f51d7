"""Outbox bodies this process sealed and committed, kept for its own outbox relay (store.py), which
sends them without decrypting them again. It decrypts any it does not find here: written by another
process or before a restart, rotated by `pairing rekey` since, or forgotten (`forget_old`)."""

from __future__ import annotations

from time import monotonic

# The end of a sealed body that names it: a token ends with its integrity tag, which covers everything
# before it (AES-GCM's 16 bytes and more; in a Fernet token, 31 bytes and more of its HMAC-SHA256 in
# base64), so two tokens that end alike are the same token. Kept instead of the whole token, so the
# cache holds little beyond the bodies.
TAG = 44


class SealedBodies(dict[str, tuple[float, bytes, bytes]]):
    """By event id: (when it was remembered, the sealed body's tag, the body)."""

    # At most this many bodies are held, each for at most this many seconds: one not sent by then (its
    # person erased meanwhile, or sent by another instance) is not kept in memory.
    HELD, SECONDS = 10_000, 60.0

    def remember(self, bodies: list[tuple[str, bytes, bytes]]) -> None:
        """Committed bodies (event id, sealed, plain). Not more than are held: the relay sends the oldest
        first, which a commit that big would push out before they were sent."""
        if len(bodies) <= self.HELD:
            now = monotonic()
            self.update((event_id, (now, sealed[-TAG:], body)) for event_id, sealed, body in bodies)
        self.forget_old()

    def forget_old(self) -> None:
        """The oldest bodies beyond HELD, and any held longer than SECONDS."""
        oldest = monotonic() - self.SECONDS
        stale: list[str] = []
        for event_id, (at, _tag, _body) in self.items():  # the oldest first
            if len(self) - len(stale) <= self.HELD and at > oldest:
                break
            stale.append(event_id)
        for event_id in stale:
            del self[event_id]

    def opened(self, event_id: str, sealed: bytes) -> bytes | None:
        """The body of this sealed outbox body if this process sealed it (and forgets it); None if not."""
        held = self.pop(event_id, None)
        # The sealed body must be the one stored: a body rotated by `pairing rekey` is opened afresh.
        return held[2] if held is not None and held[1] == sealed[-TAG:] else None
