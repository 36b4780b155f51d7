"""What the chaos tests share: calling a registry that is being killed and restarted, waiting for
something to happen, and reading a service's SQLite database."""

from __future__ import annotations

import re
import sqlite3
import time
from pathlib import Path

import httpx

from services.registry.client import RegistryError

# What the registry says to a try that asks again for what an earlier try did: "a round called ... already
# exists", "This round is approved, so it cannot be approved" (domain/rounds.py's IllegalTransition).
LANDED = re.compile(r"already|This round is (\w+), so it cannot be \1\b")


def patiently(action, *args, seconds: float = 120):
    """Call the registry, riding out the moments when it is being killed and restarted."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            return action(*args)
        except (httpx.HTTPError, RegistryError) as exc:
            if isinstance(exc, RegistryError) and LANDED.search(str(exc)):
                return None  # the first try landed, and the registry died before it answered
            if time.monotonic() > deadline:
                raise
            time.sleep(0.3)


def wait_for(check, seconds: float, what: str):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            result = check()
            if result:
                return result
        except (httpx.HTTPError, RegistryError):
            pass
        time.sleep(0.5)
    raise AssertionError(f"{what} did not happen within {seconds:.0f} seconds")


def rows(db: Path, query: str) -> list[tuple]:
    with sqlite3.connect(db) as conn:
        return conn.execute(query).fetchall()
