"""Pausing Python's cyclic garbage collector around one piece of bulk work.

An import of thousands of leaders makes millions of short-lived dicts, lists and models. Each
one counts towards the collector's next run, and every few hundred thousand the collector walks
every object the process holds (the session's rows, the app, every module), to find cycles the
import never makes: about 40% of a 2,000-row import's time (docs/benchmarks.md, pipeline
profile). Reference counting still frees everything at once while paused; only cycles wait for
the next collection after the work ends. Safe with overlapping requests: the collector runs
again when the last paused piece of work ends, and stays off if it was off before the first.
"""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Iterator

_paused = 0  # pieces of work now running with the collector paused (one event loop: no lock needed)
_was_enabled = True
_frozen = False  # freeze_what_is_loaded has run in this process


@contextlib.contextmanager
def collector_paused() -> Iterator[None]:
    global _paused, _was_enabled
    if _paused == 0:
        _was_enabled = gc.isenabled()
        gc.disable()
    _paused += 1
    try:
        yield
    finally:
        _paused -= 1
        if _paused == 0 and _was_enabled:
            gc.enable()


def freeze_what_is_loaded() -> None:
    """Move every object the service holds once started (modules, the app, its clients) out of the
    collector's sight for good: each later collection then walks only what was made since, instead
    of the whole process. Called at the end of start-up; only the first call in a process freezes
    anything, so a test process starting many apps does not keep each one's objects for good."""
    global _frozen
    if _frozen:
        return
    _frozen = True
    gc.collect()
    gc.freeze()
