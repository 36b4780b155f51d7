"""Erasure in the notifier, on a real database (PostgreSQL and SQLite): when the registry's
tombstone arrives, everything held about the person goes, nothing waiting is sent about them
later, and their partner is not left in silence."""

from __future__ import annotations

import datetime as dt
from functools import partial
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from schemas.events import LeaderContactChanged, OutcomePublished
from services.common.crypto import Cipher
from services.common.projection import Change, apply_changes
from services.notifier import handlers
from services.notifier.adapters.orm import ContactRow, ErasedRow, ScheduledRow
from services.notifier.clock import FrozenClock
from services.notifier.contacts import digest
from services.notifier.erasure import PARTNER_ERASED, forget_person
from services.notifier.person_keys import forget_contact
from tests.integration.notifier_world import KEY, PARTNER, RULES, delivery_rows, know, notifier, person, published, reports

pytestmark = pytest.mark.integration

LONDON = ZoneInfo("Europe/London")
TEXTER = {"contact_method": "sms", "phone": "07700 900123"}


def outcome_for_partner() -> OutcomePublished:
    """cl-1's news: it names pl-1 as their partner."""
    event = published()
    data = event.data.model_copy(
        update={"leader_id": "cl-1", "partners": [event.data.partners[0].model_copy(update={"partner_id": "pl-1"})]}
    )
    return event.model_copy(update={"data": data})


async def erase(n: handlers.Notifier, leader_id: str) -> None:
    """What the projection does with a tombstone on the contact topic."""
    async with n.store.unit_of_work() as uow:
        await forget_person(n, uow, leader_id)
        await uow.commit()


async def rows(store, model) -> list:
    async with store.sessions() as session:
        return list((await session.scalars(select(model))).all())


async def test_an_erased_person_is_forgotten_and_nothing_waiting_is_sent_about_them(store, channels, settings):
    clock = FrozenClock(dt.datetime(2026, 12, 15, 22, 30, tzinfo=LONDON))
    n = handlers.Notifier(
        store, Cipher(KEY), channels, RULES, clock, folders=(settings.letters_dir, settings.sms_dir, settings.tasks_dir)
    )
    await know(store, person(**TEXTER), PARTNER.model_copy(update=TEXTER | {"phone": "07700 900456"}))
    # An earlier text to pl-1 already in the text-message folder.
    settings.sms_dir.mkdir(parents=True)
    (settings.sms_dir / "earlier_pl-1_sms.txt").write_text("To: 07700 900123\nHello Amira Ahmed")
    (settings.sms_dir / "someone-else.txt").write_text("To: 07700 900999\nHello Chris")
    await handlers.on_event(n, published())  # to pl-1, held for the morning
    await handlers.on_event(n, outcome_for_partner())  # to cl-1, naming pl-1, held too
    scheduled = await rows(store, ScheduledRow)
    waiting = sorted(r.reason for r in scheduled if r.event_type != "QuestionDue")
    assert waiting == ["no_answer", "no_answer", "quiet_hours", "quiet_hours", "reminder", "reminder"], "and their reminders"
    questions = {r.reason for r in scheduled if r.event_type == "QuestionDue"}
    assert questions == {"met_question", "check_in"}, "and the questions after the first meeting"

    await erase(n, "pl-1")

    assert await rows(store, ScheduledRow) == [], "both waiting messages, and the reminders for and about them, are cancelled"
    assert [c.leader_id for c in await rows(store, ContactRow)] == ["cl-1"]
    (row,) = await delivery_rows(store)
    assert (row.leader_id, row.status, row.detail) == ("cl-1", "needs_a_person", PARTNER_ERASED)
    assert "pl-1" not in (await reports(store))[-1].model_dump_json(), "the partner's report does not name them"
    assert (await reports(store))[-1].data.leader_id == "cl-1"
    (kept,) = await rows(store, ErasedRow)
    assert "pl-1" not in kept.digest, "only a digest of their id is kept"
    assert sorted(p.name for p in settings.sms_dir.iterdir()) == ["someone-else.txt"]

    clock.set(dt.datetime(2026, 12, 16, 9, 0, tzinfo=LONDON))
    assert await handlers.run_due(n) == 0
    assert sorted(p.name for p in settings.sms_dir.iterdir()) == ["someone-else.txt"], "nothing sent in the morning"

    # News about them that comes after the erasure (a replay, a slow partition) is never sent.
    before = len(await reports(store))
    await handlers.on_event(n, published())
    await handlers.on_event(n, outcome_for_partner())
    assert [r.leader_id for r in await delivery_rows(store)] == ["cl-1", "cl-1"]
    assert [r.data.leader_id for r in (await reports(store))[before:]] == ["cl-1"], "only the partner, through a person"
    assert not settings.tasks_dir.exists() or list(settings.tasks_dir.iterdir()) == [], "no task naming them"
    assert sorted(p.name for p in settings.sms_dir.iterdir()) == ["someone-else.txt"]


async def test_in_one_batch_of_the_contact_topic_an_erasure_and_a_new_registration_each_hold(store, channels):
    # The batch's first read finds nothing stored about pl-2 and pl-3: what it makes meanwhile still counts.
    n = notifier(store, channels)
    cipher = Cipher(KEY)

    def changed(leader_id: str, version: int) -> Change:
        contact = person(leader_id=leader_id, version=version)
        return Change(leader_id, LeaderContactChanged(producer="test", correlation_id=leader_id, data=contact))

    await know(store, person(leader_id="pl-1"))
    batch = [
        Change("pl-1", None),  # erased ...
        changed("pl-1", 2),  # ... and registered again
        changed("pl-2", 1),  # new ...
        Change("pl-2", None),  # ... and erased
        changed("pl-3", 1),  # new, twice over
        changed("pl-3", 2),
    ]
    await apply_changes(
        store,
        "notifier.contacts",
        batch,
        handlers.apply_contact,
        partial(forget_contact, n),
        cipher,
        preload=handlers.load_contacts,
    )

    stored = {row.leader_id: row.version for row in await rows(store, ContactRow)}
    assert stored == {"pl-1": 2, "pl-3": 2}
    assert {row.digest for row in await rows(store, ErasedRow)} == {digest("pl-2")}
