"""Database migrations (Alembic) for every service, run at start-up.

Each service keeps its revisions in services/<service>/migrations/. To add
one after changing a service's tables:

    .venv/bin/python -m services.common.migrations revision registry "what changed"
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path
from typing import Any

from alembic import command, context
from alembic.config import Config
from sqlalchemy import create_engine, text
from sqlalchemy.ext.asyncio import AsyncEngine

SERVICES_DIR = Path(__file__).resolve().parent.parent


def script_location(service: str) -> Path:
    return SERVICES_DIR / service / "migrations"


def alembic_config(service: str, connection: Any = None, url: str | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(script_location(service)))
    if url:
        config.set_main_option("sqlalchemy.url", url)
    config.attributes["connection"] = connection
    return config


async def upgrade(engine: AsyncEngine, service: str) -> None:
    """Bring the service's database to the newest revision."""
    async with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            # Several instances may start at once on an empty database: one migrates, the others wait.
            await conn.execute(text("select pg_advisory_xact_lock(7263002)"))
        await conn.run_sync(lambda sync_conn: command.upgrade(alembic_config(service, sync_conn), "head"))


async def check(engine: AsyncEngine, service: str) -> None:
    """Raise if the tables in code differ from what the migrations build."""
    async with engine.connect() as conn:
        await conn.run_sync(lambda sync_conn: command.check(alembic_config(service, sync_conn)))


def run_env(metadata: Any) -> None:
    """The body of every service's migrations/env.py."""
    connection = context.config.attributes.get("connection")
    if connection is not None:
        _run(connection, metadata)
        return
    url = context.config.get_main_option("sqlalchemy.url")
    if url is None:
        raise RuntimeError("migrations need sqlalchemy.url, or a connection passed in the config's attributes")
    engine = create_engine(url)
    with engine.connect() as connection:
        _run(connection, metadata)
        connection.commit()


def _run(connection: Any, metadata: Any) -> None:
    # Batch mode lets SQLite, which cannot alter most columns in place, take the same revisions.
    context.configure(connection=connection, target_metadata=metadata, render_as_batch=True, compare_type=True)
    with context.begin_transaction():
        context.run_migrations()


def new_revision(service: str, message: str) -> None:
    """Write a revision for what changed in the service's tables (compared on an up-to-date SQLite copy)."""
    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite:///{folder}/scratch.db"
        command.upgrade(alembic_config(service, url=url), "head")
        command.revision(alembic_config(service, url=url), message=message, autogenerate=True)


if __name__ == "__main__":
    if len(sys.argv) != 4 or sys.argv[1] != "revision":
        sys.exit('usage: python -m services.common.migrations revision SERVICE "what changed"')
    new_revision(sys.argv[2], sys.argv[3])
