"""Pausing the cyclic garbage collector around bulk work (services/common/collector.py)."""

from __future__ import annotations

import gc

import pytest

from services.common.collector import collector_paused

pytestmark = pytest.mark.unit


@pytest.fixture(autouse=True)
def collector_restored():
    enabled = gc.isenabled()
    yield
    if enabled:
        gc.enable()
    else:
        gc.disable()


def test_paused_inside_and_running_again_after():
    gc.enable()
    with collector_paused():
        assert not gc.isenabled()
    assert gc.isenabled()


def test_overlapping_work_keeps_it_paused_until_the_last_ends():
    gc.enable()
    first, second = collector_paused(), collector_paused()
    first.__enter__()
    second.__enter__()
    first.__exit__(None, None, None)
    assert not gc.isenabled()  # the second piece of work is still running
    second.__exit__(None, None, None)
    assert gc.isenabled()


def test_running_again_after_an_error():
    gc.enable()
    with pytest.raises(ValueError), collector_paused():
        raise ValueError("the import failed")
    assert gc.isenabled()


def test_left_off_when_it_was_off_before():
    gc.disable()
    with collector_paused():
        pass
    assert not gc.isenabled()


def test_what_a_service_holds_once_started_is_frozen_once(monkeypatch):
    from services.common import collector

    monkeypatch.setattr(collector, "_frozen", False)
    gc.unfreeze()
    try:
        collector.freeze_what_is_loaded()
        frozen = gc.get_freeze_count()
        assert frozen > 0, "what the service holds is out of the collector's sight"
        made_since = [[n] for n in range(1000)]
        collector.freeze_what_is_loaded()  # another app started in the same process (tests)
        assert gc.get_freeze_count() == frozen, "only the first call freezes anything"
        del made_since
    finally:
        gc.unfreeze()
