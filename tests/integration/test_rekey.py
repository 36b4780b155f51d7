"""Key rotation re-encrypts every sealed value, on PostgreSQL and SQLite."""

import pytest
from sqlalchemy import select

from services.common.crypto import Cipher, EncryptionKeyError, new_key
from services.common.rekey import rekey, sealed_columns
from services.common.store import Store, make_engine
from services.registry.adapters.orm import Base, Inbox, LeaderRow, Outbox

pytestmark = pytest.mark.integration


async def test_after_rekey_only_the_new_key_is_needed(database_url):
    old, new = new_key(), new_key()
    store = Store(make_engine(database_url), Outbox, Inbox, Base.metadata)
    await store.prepare("registry")
    async with store.unit_of_work() as uow:
        uow.session.add(
            LeaderRow(id="rk-1", role="patient_leader", system="QHM", status="active", version=1, public={},
                      sealed=Cipher(old).seal({"email": "rk@example.org"}))
        )
        await uow.commit()
    assert [c.name for _, c in sealed_columns(Base.metadata)] == ["sealed", "sealed_reason"]
    assert await rekey(database_url, Base.metadata, Cipher(f"{new},{old}")) >= 1
    async with store.sessions() as session:
        token = await session.scalar(select(LeaderRow.sealed).where(LeaderRow.id == "rk-1"))
    await store.engine.dispose()
    assert Cipher(new).open(token) == {"email": "rk@example.org"}
    with pytest.raises(EncryptionKeyError):
        Cipher(old).open(token)
