"""Shutdown steps are bounded: a step that never ends is given up on, and the next still runs."""

from __future__ import annotations

import asyncio
import logging

import pytest

from services.common.background import Background
from services.common.runtime import stop_within

pytestmark = pytest.mark.unit


async def test_a_step_that_never_ends_is_given_up_on_and_said_so(caplog):
    caplog.set_level(logging.WARNING, "services.common.runtime")
    never = asyncio.Event()
    await stop_within("the stuck part", never.wait(), seconds=0.05)
    assert "the stuck part did not stop within 0.05 seconds; going on without it" in caplog.text


async def test_a_step_that_ends_is_waited_for():
    done: list[str] = []

    async def step() -> None:
        await asyncio.sleep(0)
        done.append("stopped")

    await stop_within("a quick part", step(), seconds=5)
    assert done == ["stopped"]


class Stubborn(Background):
    """Ignores every cancel, as a stuck client library might, until released."""

    grace_seconds = 0.01

    def __init__(self) -> None:
        self.release = asyncio.Event()

    async def run_forever(self) -> None:
        while not self.release.is_set():
            try:
                await self.release.wait()
            except asyncio.CancelledError:
                continue


async def test_background_work_that_will_not_end_when_cancelled_is_given_up_on(caplog):
    caplog.set_level(logging.WARNING, "services.common.runtime")
    job = Stubborn()
    job.start()
    task = job._task
    assert task is not None
    await asyncio.sleep(0)
    await stop_within("the stubborn part", job.stop(), seconds=0.05)
    assert "the stubborn part did not stop within 0.05 seconds" in caplog.text
    assert task.cancelling(), "it was still asked to cancel"
    job.release.set()
    await task
