"""The outbox relay goes round again at once for rows committed while it was busy, not at the next poll."""

from __future__ import annotations

import asyncio
import contextlib
from types import SimpleNamespace

import pytest

from services.common.store import OutboxRelay

pytestmark = pytest.mark.unit


class Passes(OutboxRelay):
    """A relay whose passes only count: the first one is interrupted by a commit, as the publish request's can be."""

    def __init__(self) -> None:
        # Only the event is used by run_forever; an hour's poll means only a wake-up can start a second pass.
        super().__init__(SimpleNamespace(outbox_written=asyncio.Event()), producer=None, poll_seconds=3600)  # type: ignore[arg-type]
        self.passes = 0
        self.second = asyncio.Event()

    async def publish_pending(self) -> int:
        self.passes += 1
        if self.passes == 1:
            await asyncio.sleep(0)  # the pass is reading the outbox when ...
            self.store.outbox_written.set()  # ... another transaction commits rows to it
        else:
            self.second.set()
        return 0


async def test_rows_committed_during_a_pass_are_sent_by_the_next_pass_without_waiting_for_the_poll():
    relay = Passes()
    task = asyncio.create_task(relay.run_forever())
    try:
        # No clock: the event loop is let run a hundred times, far more than a second pass needs when the
        # wake-up is kept; with it lost, the relay would be asleep until the hour's poll.
        for _ in range(100):
            if relay.second.is_set():
                break
            await asyncio.sleep(0)
        assert relay.passes == 2
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
