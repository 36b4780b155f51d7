"""The clock only `make demo-journey` moves on: a number of seconds in a file, and nothing without one."""

import datetime as dt

import pytest

from services.common.demo_clock import ShiftedClock, ahead, move_to
from services.launcher import Stack

pytestmark = pytest.mark.unit


def test_no_file_or_an_unreadable_one_is_real_time(tmp_path):
    assert ahead(None) == dt.timedelta(0)
    assert ahead(tmp_path / "missing") == dt.timedelta(0)
    (tmp_path / "bad").write_text("soon")
    assert ahead(tmp_path / "bad") == dt.timedelta(0)


def test_moving_to_a_moment_makes_the_clock_show_it(tmp_path):
    path = tmp_path / "ahead"
    target = dt.datetime.now(dt.UTC) + dt.timedelta(days=40)
    move_to(path, target)
    shown = ShiftedClock(path).now()
    assert target <= shown < target + dt.timedelta(minutes=1)
    assert dt.timedelta(days=39) < ahead(path) < dt.timedelta(days=41)


def test_make_run_never_names_a_clock_file(tmp_path, monkeypatch):
    for name in ("REGISTRY_DEMO_CLOCK_FILE", "NOTIFIER_DEMO_CLOCK_FILE"):
        monkeypatch.delenv(name, raising=False)
    env = Stack(data_dir=tmp_path).env()
    assert not [name for name in env if "DEMO_CLOCK" in name]
