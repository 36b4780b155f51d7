"""The migrations build exactly the tables the code expects, on PostgreSQL and SQLite."""

import pytest

from services.common.migrations import check, upgrade
from services.common.store import make_engine

pytestmark = pytest.mark.integration


@pytest.mark.parametrize("service", ["registry", "matcher", "notifier"])
async def test_migrations_match_the_models_and_can_run_twice(service, database_url):
    engine = make_engine(database_url)
    try:
        await upgrade(engine, service)
        await upgrade(engine, service)  # a restart runs them again: nothing changes
        await check(engine, service)  # raises if a model changed without a migration
    finally:
        await engine.dispose()
