"""Pausing Python's cyclic garbage collector around one piece of bulk work; and keeping what a
service holds for as long as it runs out of the collector's full walks.

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


def freeze_what_lasts() -> None:
    """Once a service is built: everything it holds so far (its modules, classes, schemas, templates and
    app, a few hundred thousand objects that last as long as the process) is left out of the collector's
    full walks from now on (gc.freeze), which otherwise go over all of them every few hundred messages.
    The collector stays on for everything made later."""
    gc.collect()  # garbage made while starting is freed, not kept for good
    gc.freeze()
