"""The settings every SQLite connection of a service opens with (services/common/store.py, make_engine)."""

import pytest
from sqlalchemy import text

from services.common.store import SQLITE_CACHE_KIB, make_engine

pytestmark = pytest.mark.unit


async def test_each_sqlite_connection_keeps_a_bounded_cache_and_the_log_and_zeroing_it_needs(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'service.db'}")
    try:
        async with engine.connect() as first, engine.connect() as second:
            for conn in (first, second):
                # Negative: a size in KiB, whatever the page size. SQLite's own default is -2000.
                assert (await conn.execute(text("PRAGMA cache_size"))).scalar() == -SQLITE_CACHE_KIB
                assert (await conn.execute(text("PRAGMA journal_mode"))).scalar() == "wal"
                assert (await conn.execute(text("PRAGMA secure_delete"))).scalar() == 1
    finally:
        await engine.dispose()
