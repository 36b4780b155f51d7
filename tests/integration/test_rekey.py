"""Key rotation re-encrypts every sealed value, on PostgreSQL and SQLite."""

import pytest
from sqlalchemy import select

from services.common.crypto import Cipher, EncryptionKeyError, new_key
from services.common.rekey import rekey, sealed_columns
from services.common.store import Store, make_engine
from services.registry.adapters.orm import Base, Inbox, LeaderRow, Outbox, PersonKeyRow

pytestmark = pytest.mark.integration


def stored_leader(leader_id: str, sealed: bytes, digest: str) -> LeaderRow:
    """A leader row holding only a sealed part and its digest: what rekey rewrites."""
    return LeaderRow(
        id=leader_id,
        role="patient_leader",
        system="QHM",
        status="active",
        version=1,
        public={},
        sealed=sealed,
        digest_of_sealed=digest,
    )


async def test_after_rekey_only_the_new_key_is_needed(database_url):
    old, new = new_key(), new_key()
    store = Store(make_engine(database_url), Outbox, Inbox, Base.metadata)
    await store.prepare("registry")
    details = {"email": "rk@example.org"}
    token = Cipher(old).seal(details)
    async with store.unit_of_work() as uow:
        uow.session.add(stored_leader("rk-1", token, Cipher(old).digest(Cipher.plain(details), token)))
        uow.session.add(PersonKeyRow(leader_id="rk-1", sealed_key=Cipher(old).seal_bytes(b"their data key")))
        await uow.commit()
    assert [(t.name, c.name) for t, c in sealed_columns(Base.metadata)] == [
        ("ended_pairs", "sealed_words"),  # what someone said when ending a pair
        ("follow_up_answers", "sealed_words"),  # what someone added to "Did you meet?" or a check-in
        ("leaders", "sealed"),
        ("managers", "sealed_second_factor"),
        ("person_keys", "sealed_key"),
        ("responses", "sealed_reason"),
    ]
    assert await rekey(database_url, Base.metadata, Cipher(f"{new},{old}")) >= 1
    async with store.sessions() as session:
        token, digest = (
            await session.execute(select(LeaderRow.sealed, LeaderRow.digest_of_sealed).where(LeaderRow.id == "rk-1"))
        ).one()
        data_key = await session.scalar(select(PersonKeyRow.sealed_key).where(PersonKeyRow.leader_id == "rk-1"))
    await store.engine.dispose()
    assert Cipher(new).open(token) == {"email": "rk@example.org"}
    # The keyed digest beside the sealed part is made again with the new key, for the rotated token.
    assert Cipher(new).seals(Cipher.plain(details), token, digest)
    assert digest != Cipher(old).digest(Cipher.plain(details), token), "nothing made with the old key is left"
    assert [(t.name, c.name) for t, c in sealed_columns(Base.metadata) if f"digest_of_{c.name}" in t.c] == [("leaders", "sealed")]
    assert Cipher(new).open_bytes(data_key) == b"their data key", "the key store is rotated too (pairing rekey still works)"
    with pytest.raises(EncryptionKeyError):
        Cipher(old).open(token)


async def test_rekey_rotates_event_bodies_kept_in_the_outbox_and_encrypts_old_plain_ones(database_url):
    from services.common.store import utc_now

    old, new = new_key(), new_key()
    store = Store(make_engine(database_url), Outbox, Inbox, Base.metadata)
    await store.prepare("registry")
    async with store.unit_of_work() as uow:
        uow.session.add_all(
            [
                Outbox(
                    event_id="00000000-0000-0000-0000-00000000000a",
                    topic="t",
                    key="a",
                    headers={},
                    value=Cipher(old).seal_bytes(b'{"email": "a@example.org"}'),
                ),
                # Written before outbox bodies were encrypted.
                Outbox(
                    event_id="00000000-0000-0000-0000-00000000000b",
                    topic="t",
                    key="b",
                    headers={},
                    value=b'{"email": "b@example.org"}',
                ),
                Outbox(event_id="00000000-0000-0000-0000-00000000000c", topic="t", key="c", headers={}, value=None),
                Outbox(
                    event_id="00000000-0000-0000-0000-00000000000d",
                    topic="t",
                    key="d",
                    headers={},
                    value=None,
                    published_at=utc_now(),
                ),
                # Refused by the broker and set aside by the relay: its body is kept for whoever looks into it.
                Outbox(
                    event_id="00000000-0000-0000-0000-00000000000e",
                    topic="t",
                    key="e",
                    headers={"set_aside": "RecordTooLargeError"},
                    value=Cipher(old).seal_bytes(b'{"email": "e@example.org"}'),
                    published_at=utc_now(),
                ),
            ]
        )
        await uow.commit()
    assert await rekey(database_url, Base.metadata, Cipher(f"{new},{old}")) == 3
    async with store.sessions() as session:
        values = dict((await session.execute(select(Outbox.key, Outbox.value))).all())
    await store.engine.dispose()
    assert Cipher(new).open_bytes(values["a"]) == b'{"email": "a@example.org"}'
    assert Cipher(new).open_bytes(values["b"]) == b'{"email": "b@example.org"}'
    assert Cipher(new).open_bytes(values["e"]) == b'{"email": "e@example.org"}', "a set-aside body stays readable"
    assert values["c"] is None and values["d"] is None, "tombstones and published rows stay empty"


async def test_rekey_leaves_a_set_aside_body_no_key_can_read_and_stops_at_a_waiting_one(database_url, caplog):
    from services.common.store import utc_now

    lost, old, new = new_key(), new_key(), new_key()
    store = Store(make_engine(database_url), Outbox, Inbox, Base.metadata)
    await store.prepare("registry")
    unreadable = Cipher(lost).seal_bytes(b'{"email": "f@example.org"}')
    async with store.unit_of_work() as uow:
        # Set aside before rotation covered such rows, and its key removed since: nothing can read it.
        uow.session.add(
            Outbox(
                event_id="00000000-0000-0000-0000-00000000000f",
                topic="t",
                key="f",
                headers={"set_aside": "RecordTooLargeError"},
                value=unreadable,
                published_at=utc_now(),
            )
        )
        uow.session.add(
            Outbox(
                event_id="00000000-0000-0000-0000-000000000010",
                topic="t",
                key="g",
                headers={},
                value=Cipher(old).seal_bytes(b'{"email": "g@example.org"}'),
            )
        )
        await uow.commit()
    try:
        assert await rekey(database_url, Base.metadata, Cipher(f"{new},{old}")) == 1, "the readable body alone is rotated"
        async with store.sessions() as session:
            values = dict((await session.execute(select(Outbox.key, Outbox.value))).all())
        assert values["f"] == unreadable, "left as it was"
        assert "set-aside event 00000000-0000-0000-0000-00000000000f cannot be read" in caplog.text, "and named"
        assert Cipher(new).open_bytes(values["g"]) == b'{"email": "g@example.org"}'

        # An event still waiting to be sent that no key can read stops the rotation, with a clear error.
        async with store.unit_of_work() as uow:
            waiting = Outbox(event_id="00000000-0000-0000-0000-000000000011", topic="t", key="h", headers={}, value=unreadable)
            uow.session.add(waiting)
            await uow.commit()
        newer = new_key()
        with pytest.raises(EncryptionKeyError, match="Event 00000000-0000-0000-0000-000000000011, waiting to be sent"):
            await rekey(database_url, Base.metadata, Cipher(f"{newer},{new},{old}"))
        async with store.sessions() as session:
            after = dict((await session.execute(select(Outbox.key, Outbox.value))).all())
        assert Cipher(new).open_bytes(after["g"]) == b'{"email": "g@example.org"}'
        with pytest.raises(EncryptionKeyError):
            Cipher(newer).open_bytes(after["g"])  # nothing of the stopped rotation was kept
    finally:
        await store.engine.dispose()


async def test_rekey_rewrites_values_sealed_with_fernet_before_aes_gcm(database_url):
    """Values sealed before AES-GCM (Fernet tokens) are opened with the old key and sealed the new
    way with the new one: after rekey no Fernet token is left and the old key can go."""
    from cryptography.fernet import Fernet

    from services.common.crypto import SEALED_V2

    old, new = new_key(), new_key()
    fernet = Fernet(old.encode())
    details = {"email": "fernet@example.org"}
    token = fernet.encrypt(Cipher.plain(details))
    store = Store(make_engine(database_url), Outbox, Inbox, Base.metadata)
    await store.prepare("registry")
    async with store.unit_of_work() as uow:
        uow.session.add(stored_leader("rk-fernet", token, Cipher(old).digest(Cipher.plain(details), token)))
        uow.session.add(PersonKeyRow(leader_id="rk-fernet", sealed_key=fernet.encrypt(b"their data key")))
        uow.session.add(
            Outbox(
                event_id="00000000-0000-0000-0000-0000000000f1",
                topic="t",
                key="f",
                headers={},
                value=fernet.encrypt(b'{"email": "f@example.org"}'),
            )
        )
        await uow.commit()
    assert await rekey(database_url, Base.metadata, Cipher(f"{new},{old}")) == 3
    async with store.sessions() as session:
        sealed, digest = (
            await session.execute(select(LeaderRow.sealed, LeaderRow.digest_of_sealed).where(LeaderRow.id == "rk-fernet"))
        ).one()
        data_key = await session.scalar(select(PersonKeyRow.sealed_key).where(PersonKeyRow.leader_id == "rk-fernet"))
        body = await session.scalar(select(Outbox.value).where(Outbox.key == "f"))
    await store.engine.dispose()
    assert [value[:1] for value in (sealed, data_key, body)] == [SEALED_V2] * 3, "every Fernet token is rewritten"
    only_new = Cipher(new)
    assert only_new.open(sealed) == details
    assert only_new.seals(Cipher.plain(details), sealed, digest), "its digest is made again for the new token"
    assert only_new.open_bytes(data_key) == b"their data key"
    assert only_new.open_bytes(body) == b'{"email": "f@example.org"}'
