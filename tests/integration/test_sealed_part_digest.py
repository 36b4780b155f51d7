"""A leader's sealed part (contact details, access needs) has a keyed digest beside it
(LeaderRow.digest_of_sealed), so an import tells an unchanged one without decrypting it. These check
that it is kept up to date, that it saves the decrypting, and that a sealed part rewritten without it
(or a digest missing) is decrypted and compared as before, never taken as unchanged by mistake."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import select, update

from services.common.crypto import Cipher, new_key
from services.registry.adapters.orm import LeaderRow
from services.registry.handlers import leaders
from services.registry.person_keys import PersonKeys
from tests.leader_sheets import a_row as sheet_row
from tests.leader_sheets import spreadsheet

pytestmark = pytest.mark.integration


class CountingCipher(Cipher):
    """A real cipher that counts the sealed parts it opens."""

    def __init__(self, keys: str):
        super().__init__(keys)
        self.opened = 0

    def open(self, token: bytes) -> dict:
        self.opened += 1
        return super().open(token)


def a_row(ident: str, **changes: str) -> dict[str, str]:
    """A leader with an access need, so the sealed part holds special-category data too."""
    return sheet_row(ident, **{"access_needs": "quiet_room", **changes})


async def import_rows(store, cipher: Cipher, keys: PersonKeys, rows: list[dict[str, str]]) -> dict[str, int]:
    async with store.unit_of_work() as uow:
        report = await leaders.import_spreadsheet(uow, cipher, "l.csv", spreadsheet(rows), keys=keys, part_done=uow.commit)
    return report.counts


async def stored(store, ids: list[str]) -> dict[str, tuple[bytes, str | None]]:
    async with store.sessions() as session:
        rows = await session.execute(
            select(LeaderRow.id, LeaderRow.sealed, LeaderRow.digest_of_sealed).where(LeaderRow.id.in_(ids))
        )
        return {row.id: (row.sealed, row.digest_of_sealed) for row in rows}


async def test_an_unchanged_sealed_part_is_known_by_its_digest_and_a_changed_one_is_sealed_again(registry_store):
    cipher, keys = CountingCipher(new_key()), PersonKeys(Cipher(new_key()), Cipher(new_key()))
    ids = [f"dig-{uuid.uuid4().hex[:6]}-{n}" for n in range(3)]
    assert await import_rows(registry_store, cipher, keys, [a_row(i) for i in ids]) == {
        "created": 3,
        "updated": 0,
        "unchanged": 0,
    }
    first = await stored(registry_store, ids)
    for token, digest in first.values():
        assert cipher.seals(Cipher.plain(cipher.open(token)), token, digest)
    cipher.opened = 0
    changed = [a_row(ids[0], topics="frailty"), a_row(ids[1], email="new@example.org"), a_row(ids[2])]
    assert await import_rows(registry_store, cipher, keys, changed) == {"created": 0, "updated": 2, "unchanged": 1}
    assert cipher.opened == 1, "only the changed contact details were decrypted, to compare them"
    second = await stored(registry_store, ids)
    assert second[ids[0]] == first[ids[0]] and second[ids[2]] == first[ids[2]], "kept as they were"
    token, digest = second[ids[1]]
    assert cipher.open(token)["email"] == "new@example.org" and cipher.seals(Cipher.plain(cipher.open(token)), token, digest)


async def test_a_sealed_part_rewritten_without_its_digest_is_decrypted_and_compared(registry_store):
    cipher, keys = CountingCipher(new_key()), PersonKeys(Cipher(new_key()), Cipher(new_key()))
    ident, missing = f"dig-{uuid.uuid4().hex[:6]}", f"dig-{uuid.uuid4().hex[:6]}-none"
    await import_rows(registry_store, cipher, keys, [a_row(ident), a_row(missing)])
    # Other code seals other details in the row and leaves the digest as it was; and a row stored
    # before digests were kept has none.
    async with registry_store.sessions() as session, session.begin():
        details = cipher.open((await stored(registry_store, [ident]))[ident][0])
        other = cipher.seal({**details, "email": "someone-else@example.org"})
        await session.execute(update(LeaderRow).where(LeaderRow.id == ident).values(sealed=other))
        await session.execute(update(LeaderRow).where(LeaderRow.id == missing).values(digest_of_sealed=None))
    cipher.opened = 0
    # The file's details are the ones the digest was made of: only decrypting shows they changed.
    assert await import_rows(registry_store, cipher, keys, [a_row(ident), a_row(missing)]) == {
        "created": 0,
        "updated": 1,
        "unchanged": 1,
    }
    assert cipher.opened == 2
    rows = await stored(registry_store, [ident, missing])
    assert cipher.open(rows[ident][0])["email"] == f"{ident}@example.org"
    token, digest = rows[ident]
    assert cipher.seals(Cipher.plain(cipher.open(token)), token, digest), "made again with the change"
    assert rows[missing][1] is None, "an unchanged row is not written: its digest comes with its next change"
