"""Waiting in a test for a service's consumer lag (read from the broker) to reach a number."""

from __future__ import annotations

import asyncio
from typing import Any

from services.common.observability import consumer_lag


async def wait_for_lag(broker: Any, topic: str, wanted: int, seconds: float = 30) -> dict[str, float]:
    """The service's lag once it reads `wanted` for `topic`, or what it read last when it never did:
    the test asserts on what it gets."""
    deadline = asyncio.get_running_loop().time() + seconds
    while True:
        lag = await consumer_lag(broker)
        if lag.get(topic) == wanted or asyncio.get_running_loop().time() > deadline:
            return lag
        await asyncio.sleep(0.2)
