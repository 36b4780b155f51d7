"""The notifier's delivery of an outcome on a real database (PostgreSQL and
SQLite), a real SMTP server and real output folders: once per person, in the
format and channel they need, or handed to a person."""

from __future__ import annotations

import asyncio
import dataclasses

import pytest

from schemas.events import (
    ContactProxy,
)
from services.common.embedded import free_port, read_maildir
from services.notifier import handlers
from services.notifier.adapters.channels import SmtpChannel
from services.notifier.batch import TryAgain
from services.notifier.clock import FrozenClock
from tests.integration.notifier_world import (
    DAYTIME,
    PARTNER,
    RULES,
    deliver,
    delivery_rows,
    know,
    notifier,
    person,
    published,
    reports,
)

pytestmark = pytest.mark.integration


class Crash(BaseException):
    """Stands for the process dying: not an Exception, so nothing records it."""


class CrashAfterSending:
    """The channel takes the message, then the process dies before the delivery is recorded."""

    def __init__(self, channel):
        self.channel = channel

    async def send(self, message, to, key):
        await self.channel.send(message, to, key)
        raise Crash()


async def test_a_redelivered_outcome_is_sent_once_and_reported_once(store, channels, smtp_server):
    _, maildir = smtp_server
    await know(store, person(), PARTNER)
    event = published()
    for _ in range(3):
        await deliver(store, channels, event)
    (message,) = read_maildir(maildir)
    assert message["To"] == "amira@example.org"
    assert "We have found you a partner" in message.get_body(preferencelist=("plain",)).get_content()
    assert [a.get_filename() for a in message.iter_attachments()] == ["first-meeting.ics"]
    (report,) = await reports(store)
    assert (report.data.channel, report.data.status, report.data.leader_id) == ("email", "sent", "pl-1")


async def test_a_failing_mail_server_raises_so_the_consumer_retries_then_it_is_sent_once(store, channels, smtp_server):
    _, maildir = smtp_server
    await know(store, person(), PARTNER)
    event = published()
    closed = {**channels, "email": SmtpChannel("127.0.0.1", free_port(), 2)}
    with pytest.raises(TryAgain) as failure:
        await deliver(store, closed, event)
    assert isinstance(failure.value.__cause__, OSError)
    (row,) = await delivery_rows(store)
    assert row.status == "retrying" and row.attempts == 1
    assert await reports(store) == [], "nothing is reported while a retry may still succeed"

    await deliver(store, channels, event)
    assert len(read_maildir(maildir)) == 1
    (report,) = await reports(store)
    assert report.data.status == "sent"


async def test_after_the_last_try_the_failure_is_reported_for_a_person_to_follow_up(store, channels):
    await know(store, person(), PARTNER)
    event = published()
    closed = {**channels, "email": SmtpChannel("127.0.0.1", free_port(), 2)}
    for _ in range(RULES.max_attempts - 1):
        with pytest.raises(TryAgain) as failure:  # the mail server is not there: the consumer will try again
            await deliver(store, closed, event)
        assert isinstance(failure.value.__cause__, OSError)
    with pytest.raises(OSError):  # the last try: given up, and raised for the consumer to dead-letter
        await deliver(store, closed, event)
    (report,) = await reports(store)
    assert report.data.status == "failed" and "try 3" in report.data.detail


@pytest.mark.parametrize("channel", ["sms", "letter"])
async def test_a_crash_after_a_file_channel_took_the_message_never_gives_two(
    store, channels, settings, channel, crashed_sends_taken_over_soon
):
    await know(store, person(contact_method=channel, phone="07700 900123", postal_address="1 Example Street, Newcastle"), PARTNER)
    event = published()
    with pytest.raises(Crash):
        await deliver(store, {**channels, channel: CrashAfterSending(channels[channel])}, event)
    await deliver(store, channels, event)
    folder = settings.sms_dir if channel == "sms" else settings.letters_dir
    assert len([p for p in folder.iterdir() if not p.name.startswith(".")]) == 1
    (report,) = await reports(store)
    assert (report.data.channel, report.data.status) == (channel, "sent")


async def test_the_window_that_remains_a_crash_after_smtp_took_it_can_mean_a_second_email_with_the_same_id(
    store, channels, smtp_server, crashed_sends_taken_over_soon
):
    _, maildir = smtp_server
    await know(store, person(), PARTNER)
    event = published()
    with pytest.raises(Crash):
        await deliver(store, {**channels, "email": CrashAfterSending(channels["email"])}, event)
    await deliver(store, channels, event)
    first, second = read_maildir(maildir)
    assert first["Message-ID"] == second["Message-ID"], "a mail program can tell it is the same message"
    assert len(await reports(store)) == 1


async def test_large_print_and_easy_read_emails_are_in_the_format_asked_for(store, channels, smtp_server):
    _, maildir = smtp_server
    await know(store, PARTNER, person(information_format="large_print_24"))
    await deliver(store, channels, published())
    await know(store, person(leader_id="pl-2", email="b@example.org", information_format="easy_read"))
    await deliver(store, channels, published("pl-2"))
    large, easy = sorted(read_maildir(maildir), key=lambda m: m["To"])
    assert "font-size: 24pt" in large.get_body(preferencelist=("html",)).get_content()
    assert "We have found you a partner" in large.get_body(preferencelist=("plain",)).get_content()
    assert "We found you a partner" in easy.get_body(preferencelist=("plain",)).get_content()
    assert "font-size: 16pt" in easy.get_body(preferencelist=("html",)).get_content()


async def test_a_text_message_and_a_letter_land_in_their_folders(store, channels, settings):
    await know(
        store,
        PARTNER,
        person(contact_method="sms", phone="07700 900123"),
        person(
            leader_id="pl-2",
            contact_method="letter",
            postal_address="2 Example Road, York, YO1 1AA",
            information_format="large_print_20",
        ),
    )
    await deliver(store, channels, published("pl-1"))
    await deliver(store, channels, published("pl-2", paired=False))
    (sms,) = settings.sms_dir.glob("*.txt")
    assert sms.read_text().startswith("To: 07700 900123") and "Yes http://127.0.0.1:8000/a/k7mp2qr9wxtd" in sms.read_text()
    (letter,) = settings.letters_dir.glob("*.pdf")
    assert letter.read_bytes().startswith(b"%PDF-")
    assert {(r.data.leader_id, r.data.channel, r.data.status) for r in await reports(store)} == {
        ("pl-1", "sms", "sent"),
        ("pl-2", "letter", "sent"),
    }


async def test_braille_goes_to_a_person_with_the_words_to_use_and_is_never_emailed(store, channels, settings, smtp_server):
    _, maildir = smtp_server
    await know(store, PARTNER, person(information_format="braille"))
    await deliver(store, channels, published())
    assert read_maildir(maildir) == []
    (task,) = settings.tasks_dir.glob("*.txt")
    body = task.read_text()
    assert body.startswith("Braille message for Amira Ahmed\n\nWhat to do: please have the message below put into braille")
    # The answer is due on Tuesday 5 January 2027; braille takes 10 working days (Christmas and Boxing Day are not).
    assert "Do it by: Thursday 17 December 2026, so they have it in time to answer by Tuesday 5 January 2027" in body
    assert "Dear Amira Ahmed" in body and "call Priya Shah on 0113 496 0123" in body
    assert "http" not in body and "pl-1" not in body and "registry" not in body, "no web address, no internal id"
    (report,) = await reports(store)
    assert (report.data.channel, report.data.status) == ("person", "needs_a_person")
    assert "braille" in report.data.detail


@pytest.mark.parametrize(
    ("change", "title", "days"),
    [
        ({"information_format": "audio"}, "Audio message for Amira Ahmed", "Thursday 24 December 2026"),
        ({"contact_method": "telephone", "phone": "07700 900123"}, "Phone call for Amira Ahmed", "Thursday 31 December 2026"),
        (
            {"communication_professional": "British Sign Language interpreter"},
            "Message to share with a communication professional",
            "Thursday 24 December 2026",
        ),
    ],
)
async def test_each_kind_of_task_has_its_own_deadline_and_no_web_address(store, channels, settings, change, title, days):
    await know(store, PARTNER, person(**change))
    await deliver(store, channels, published())
    (task,) = settings.tasks_dir.glob("*.txt")
    body = task.read_text()
    assert body.startswith(title) and f"Do it by: {days}" in body
    assert "http" not in body and "pl-1" not in body and "registry" not in body
    assert "open Leaders and search for Amira Ahmed" in body


async def test_a_letter_the_printer_font_cannot_show_goes_to_a_person(store, channels, settings):
    await know(store, PARTNER, person(name="王芳", contact_method="letter", postal_address="1 Example Street, Leeds"))
    await deliver(store, channels, published())
    assert not settings.letters_dir.exists() or not list(settings.letters_dir.glob("*.pdf"))
    (report,) = await reports(store)
    assert (report.data.channel, report.data.status) == ("person", "needs_a_person")
    assert "could not be reached by letter" in report.data.detail


async def test_an_outcome_whose_contact_details_never_come_goes_to_a_person_and_is_reported(store, channels, settings):
    """Never silence (Always Event 1): after the wait, a person is asked to pass it on."""
    await know(store, PARTNER)
    clock = FrozenClock(DAYTIME)
    n = notifier(store, channels, dataclasses.replace(RULES, contact_wait_seconds=30), clock)
    await handlers.on_event(n, published())
    assert await reports(store) == [] and await delivery_rows(store) == [], "waiting, not yet given up"
    clock.advance(seconds=10)
    await handlers.run_due(n)
    assert await reports(store) == [], "still within the wait"
    clock.advance(seconds=21)
    assert await handlers.run_due(n) == 1
    (report,) = await reports(store)
    assert (report.data.leader_id, report.data.channel, report.data.status) == ("pl-1", "person", "needs_a_person")
    assert "we do not have their contact details yet" in report.data.detail
    (task,) = settings.tasks_dir.glob("*.txt")
    body = task.read_text()
    assert "We have found them a partner: Ben Bell." in body and "search for record number pl-1" in body
    assert "cl-1" not in body and "http" not in body, "no web address, and no id for someone whose name we know"
    assert await handlers.run_due(n) == 0, "nothing is left on the schedule"
    await handlers.on_event(n, published())
    assert len(await reports(store)) == 1, "a redelivered outcome is not told twice"


async def test_an_outcome_waiting_for_contact_details_does_not_hold_up_the_consumer(store, channels, smtp_server):
    _, maildir = smtp_server
    await know(store, PARTNER)
    clock = FrozenClock(DAYTIME)
    n = notifier(store, channels, dataclasses.replace(RULES, contact_wait_seconds=30), clock)
    # Returns at once: the outcome is parked in the database, so the partition keeps flowing.
    await asyncio.wait_for(handlers.on_event(n, published()), 5)
    assert read_maildir(maildir) == []
    await know(store, person())
    # The new contact wakes the scheduler, which looks at waiting messages before they are due.
    assert await handlers.run_due(n) == 0
    assert await handlers.run_due(n, early=True) == 1
    assert len(read_maildir(maildir)) == 1
    (report,) = await reports(store)
    assert (report.data.channel, report.data.status) == ("email", "sent")


async def test_with_no_wait_a_missing_contact_goes_to_a_person_at_once(store, channels):
    await deliver(store, channels, published(), dataclasses.replace(RULES, contact_wait_seconds=0))
    (report,) = await reports(store)
    assert report.data.status == "needs_a_person" and "contact details" in report.data.detail


# ---- through a carer or another person the leader named, with their agreement ----

SAM = ContactProxy(name="Sam Ahmed", relationship="son", email="sam@example.org")


async def test_a_leader_who_asked_for_messages_through_a_named_person_is_told_through_them(store, channels, smtp_server, caplog):
    _, maildir = smtp_server
    caplog.set_level("DEBUG")
    await know(store, PARTNER, person(contact_method="via_carer", email=None, proxy=SAM))
    await deliver(store, channels, published())
    (message,) = read_maildir(maildir)
    assert message["To"] == "sam@example.org"
    assert message["Subject"].startswith("A message for Amira Ahmed: ")
    body = message.get_body(preferencelist=("plain",)).get_content()
    assert body.startswith(
        "This message is for Amira Ahmed. You are getting it because Amira Ahmed asked us to send their messages to you."
    )
    assert "Dear Amira Ahmed" in body and "We have found you a partner" in body
    assert "This message is for Amira Ahmed" in message.get_body(preferencelist=("html",)).get_content()
    (report,) = await reports(store)
    assert (report.data.channel, report.data.status) == ("email", "sent")
    assert "the person they named to get their messages, with their agreement" in report.data.detail
    # Our own logs (the test mail server logs what it receives, as a mail server would).
    ours = "\n".join(r.getMessage() for r in caplog.records if r.name.startswith("pairing"))
    for personal in ("Sam", "sam@example.org"):
        assert personal not in report.data.detail and personal not in ours


async def test_a_named_person_with_no_address_means_a_person_passes_the_message_on(store, channels, settings, smtp_server):
    _, maildir = smtp_server
    await know(store, PARTNER, person(contact_method="via_carer", proxy=ContactProxy(name="Sam Ahmed")))
    await deliver(store, channels, published())
    assert read_maildir(maildir) == [], "never to the leader's own email instead"
    (task,) = settings.tasks_dir.glob("*.txt")
    assert "the person they named" in task.read_text() and "This message is for" not in task.read_text()
    (report,) = await reports(store)
    assert (report.data.channel, report.data.status) == ("person", "needs_a_person")
