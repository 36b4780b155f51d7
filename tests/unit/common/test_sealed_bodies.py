"""The bodies a process sealed, kept for its own relay: bounded in number and in time."""

import pytest

from services.common import sealed_bodies
from services.common.sealed_bodies import SealedBodies

pytestmark = pytest.mark.unit


def bodies(count: int, tag: str = "e") -> list[tuple[str, bytes, bytes]]:
    return [(f"{tag}{n}", b"token-" + str(n).encode().rjust(50, b"0"), f"body {n}".encode()) for n in range(count)]


def test_a_body_is_given_back_once_and_only_for_its_own_token():
    held = SealedBodies()
    held.remember(bodies(2))
    assert held.opened("e0", b"another token, rotated since") is None  # and forgotten
    assert "e0" not in held
    token = bodies(2)[1][1]
    assert held.opened("e1", token) == b"body 1"
    assert held.opened("e1", token) is None


def test_the_oldest_go_first_beyond_the_limit(monkeypatch):
    monkeypatch.setattr(SealedBodies, "HELD", 3)
    held = SealedBodies()
    held.remember(bodies(2, "a"))
    held.remember(bodies(2, "b"))
    assert list(held) == ["a1", "b0", "b1"]


def test_a_commit_bigger_than_the_limit_is_not_kept(monkeypatch):
    monkeypatch.setattr(SealedBodies, "HELD", 3)
    held = SealedBodies()
    held.remember(bodies(1, "a"))
    held.remember(bodies(4, "b"))  # the relay sends the oldest first: these would push each other out
    assert list(held) == ["a0"]


def test_a_body_not_sent_within_the_time_is_forgotten(monkeypatch):
    now = [1000.0]
    monkeypatch.setattr(sealed_bodies, "monotonic", lambda: now[0])
    held = SealedBodies()
    held.remember(bodies(2, "a"))
    now[0] += SealedBodies.SECONDS / 2
    held.remember(bodies(1, "b"))
    now[0] += SealedBodies.SECONDS / 2 + 1  # the first two are now older than the limit: erased since, say
    held.forget_old()
    assert list(held) == ["b0"]
