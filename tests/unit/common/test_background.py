"""Background work stops by asking: the pass in hand finishes, no other starts, and only a pass that
outlives its grace is cancelled (a cancel landing inside a commit leaves its connection half returned)."""

from __future__ import annotations

import asyncio
import logging

import pytest

from services.common.background import Background
from services.common.retention import PurgeJob

pytestmark = pytest.mark.unit


class Passes(Background):
    """Each pass waits until told to go on; between passes it rests for an hour."""

    def __init__(self, grace_seconds: float = 5.0) -> None:
        self.grace_seconds = grace_seconds
        self.started, self.go_on = asyncio.Event(), asyncio.Event()
        self.passes = self.finished = 0
        self.cancelled = False

    async def run_forever(self) -> None:
        while not self.stopping.is_set():
            self.passes += 1
            self.started.set()
            try:
                await self.go_on.wait()
            except asyncio.CancelledError:
                self.cancelled = True
                raise
            self.finished += 1
            await self.rest(3600)


async def test_a_pass_in_hand_finishes_and_no_other_starts():
    job = Passes()
    job.start()
    await asyncio.wait_for(job.started.wait(), 1)
    stopping = asyncio.create_task(job.stop())
    await asyncio.sleep(0.05)
    assert not stopping.done(), "stop waits for the pass in hand"
    job.go_on.set()
    await asyncio.wait_for(stopping, 1)
    assert (job.passes, job.finished, job.cancelled) == (1, 1, False)


async def test_a_rest_between_passes_ends_at_once_on_stop():
    job = Passes()
    job.go_on.set()
    job.start()
    await asyncio.wait_for(job.started.wait(), 1)
    await asyncio.sleep(0)  # into its hour's rest
    await asyncio.wait_for(job.stop(), 1)
    assert (job.passes, job.finished, job.cancelled) == (1, 1, False)


async def test_a_pass_that_outlives_its_grace_is_cancelled():
    job = Passes(grace_seconds=0.05)
    job.start()
    await asyncio.wait_for(job.started.wait(), 1)
    await asyncio.wait_for(job.stop(), 1)
    assert (job.passes, job.finished, job.cancelled) == (1, 0, True)


async def test_a_stopped_job_starts_again():
    job = Passes()
    job.go_on.set()
    job.start()
    await asyncio.wait_for(job.started.wait(), 1)
    await job.stop()
    job.started.clear()
    job.start()
    await asyncio.wait_for(job.started.wait(), 1)
    await job.stop()
    assert job.passes == 2


async def test_the_purge_job_purges_at_once_and_stops_without_a_cancel():
    purged = asyncio.Event()

    async def purge() -> dict[str, int]:
        purged.set()
        return {"rows": 0}

    job = PurgeJob("test", purge)
    job.start()
    task = job._task
    assert task is not None
    await asyncio.wait_for(purged.wait(), 1)
    await asyncio.wait_for(job.stop(), 1)  # its day's rest ends at once
    assert task.done() and not task.cancelled()


class Breaks(Background):
    task_name = "the breaking job"

    async def run_forever(self) -> None:
        raise RuntimeError("broken on purpose")


async def test_a_loop_that_ends_by_an_error_is_said_at_once(caplog):
    caplog.set_level(logging.ERROR, "services.common.background")
    job = Breaks()
    job.start()
    for _ in range(10):
        await asyncio.sleep(0)
    assert "the breaking job stopped by an error" in caplog.text
    assert "broken on purpose" in caplog.text
    await asyncio.wait_for(job.stop(), 1)
