"""What the chaos tests share: calling a registry that is being killed and restarted, waiting for
something to happen, and reading a service's SQLite database."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

import httpx

from services.registry.client import RegistryError


def patiently(action, *args, seconds: float = 120):
    """Call the registry, riding out the moments when it is being killed and restarted."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            return action(*args)
        except (httpx.HTTPError, RegistryError) as exc:
            if isinstance(exc, RegistryError) and "already" in str(exc):
                return None  # the first try landed before the registry died
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
