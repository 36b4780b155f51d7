"""The notifier's batches compile the same statements whatever their size: each statement compiled is
kept in the engine's cache, so one for each size of batch grew the notifier's memory round after round."""

from __future__ import annotations

import pytest

from services.notifier import handlers
from tests.integration.notifier_world import PARTNER, know, notifier, person, published

pytestmark = pytest.mark.integration


async def test_batches_of_every_size_compile_no_statement_of_their_own(store, channels, smtp_server):
    n = notifier(store, channels)
    cache = store.engine.sync_engine._compiled_cache
    sizes = [1, 2, 3, 5, 7, 11, 17, 23, 31, 40]
    people = iter(f"pl-{i}" for i in range(sum(sizes) * 2))
    await know(store, PARTNER)
    grew = {}
    for size in sizes:
        leaders = [next(people) for _ in range(size)]
        await know(store, *(person(leader_id=leader, email=f"{leader}@example.org") for leader in leaders))
        before = set(cache.keys())
        assert await handlers.on_outcomes(n, [published(leader) for leader in leaders]) == []
        grew[size] = [repr(key[1])[:300] for key in set(cache.keys()) - before]  # the statement's own key
    later = {size: new for size, new in grew.items() if size > sizes[2] and new}
    assert later == {}, later
