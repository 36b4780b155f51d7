"""The GOV.UK Notify channel against a local server that speaks the parts of
the Notify API we use (a real HTTP server on loopback, with its token check),
on a real database: email, text messages and letters, what happens when
Notify cannot set a format or refuses a message, and what Notify says later
became of a message (its receipt)."""

from __future__ import annotations

import uuid

import pytest
from pydantic import SecretStr

from services.notifier import handlers
from services.notifier.adapters.channels import FileSmsChannel, PrintQueueChannel, SmtpChannel
from services.notifier.adapters.notify import ByFormat, NotifyChannel, notify_markdown
from services.notifier.app import make_channels, receipt_checker
from services.notifier.batch import TryAgain
from services.notifier.clock import FrozenClock
from services.notifier.config import NotifierSettings
from services.notifier.notices import notice_for
from tests.integration.fake_notify import SERVICE_ID, TEMPLATES
from tests.integration.notifier_world import (
    DAYTIME,
    KEY,
    PARTNER,
    deliver,
    delivery_rows,
    know,
    notifier,
    person,
    published,
    reports,
)

pytestmark = [pytest.mark.integration, pytest.mark.notify]  # messages go through the local Notify


def test_settings_choose_notify_for_email_text_messages_and_standard_letters(channels):
    assert isinstance(channels["email"], NotifyChannel) and channels["email"].kind == "email"
    assert isinstance(channels["sms"], NotifyChannel) and channels["sms"].kind == "sms"
    assert isinstance(channels["letter"], ByFormat) and isinstance(channels["letter"].otherwise, PrintQueueChannel)
    local = make_channels(NotifierSettings(encryption_keys=KEY, event_keys=KEY))
    assert isinstance(local["email"], SmtpChannel) and isinstance(local["sms"], FileSmsChannel)


def test_notify_without_its_key_and_templates_does_not_start():
    with pytest.raises(ValueError, match="NOTIFY_API_KEY"):
        NotifierSettings(encryption_keys=KEY, event_keys=KEY, channel="notify")


async def test_an_email_goes_through_notify_with_the_subject_body_and_delivery_key(store, channels, notify):
    await know(store, person(), PARTNER)
    event = published()
    for _ in range(2):
        await deliver(store, channels, event)
    ((kind, body),) = notify.received
    assert kind == "email" and body["email_address"] == "amira@example.org"
    assert body["template_id"] == TEMPLATES["email"]
    assert body["reference"] == notice_for(event).key("email")
    fields = body["personalisation"]
    assert fields["subject"] == "We have found you a partner for the patient leader programme"
    assert "Dear Amira Ahmed" in fields["body"] and "# Your partner: Ben Bell" in fields["body"]
    assert "http://127.0.0.1:8000/a/k7mp2qr9wxtd" in fields["body"]
    (report,) = await reports(store)
    assert (report.data.channel, report.data.status) == ("email", "sent")
    assert "GOV.UK Notify" in report.data.detail


async def test_a_text_message_goes_through_notify(store, channels, notify):
    await know(store, person(contact_method="sms", phone="07700 900123"), PARTNER)
    await deliver(store, channels, published())
    ((kind, body),) = notify.received
    assert kind == "sms" and body["phone_number"] == "07700 900123"
    assert body["personalisation"]["body"].startswith("Patient leader programme: Amira Ahmed, we have found you a partner")
    assert "http://127.0.0.1:8000/a/k7mp2qr9wxtd" in body["personalisation"]["body"]


async def test_a_standard_letter_goes_through_notify_with_the_address_lines(store, channels, notify):
    address = "1 Example Street\nNewcastle upon Tyne\nNE1 1AA"
    await know(store, person(contact_method="letter", postal_address=address), PARTNER)
    await deliver(store, channels, published())
    ((kind, body),) = notify.received
    fields = body["personalisation"]
    assert kind == "letter"
    assert [fields[f"address_line_{i}"] for i in range(1, 5)] == [
        "Amira Ahmed",
        "1 Example Street",
        "Newcastle upon Tyne",
        "NE1 1AA",
    ]
    assert "address_line_5" not in fields
    assert "type it into a web browser" in fields["body"]


async def test_a_large_print_letter_is_not_sent_as_standard_print_but_printed_here(store, channels, notify, settings):
    address = "1 Example Street, Newcastle upon Tyne, NE1 1AA"
    await know(store, person(contact_method="letter", postal_address=address, information_format="large_print_24"), PARTNER)
    await deliver(store, channels, published())
    assert notify.received == [], "Notify cannot set large print"
    (pdf,) = settings.letters_dir.glob("*.pdf")
    assert pdf.read_bytes().startswith(b"%PDF-")
    (report,) = await reports(store)
    assert (report.data.channel, report.data.status) == ("letter", "sent")


async def test_a_large_print_email_goes_to_a_person_never_to_notify_in_standard_size(store, channels, notify, settings):
    await know(store, person(information_format="large_print_28"), PARTNER)
    await deliver(store, channels, published())
    assert notify.received == []
    (report,) = await reports(store)
    assert (report.data.channel, report.data.status) == ("person", "needs_a_person")
    assert "GOV.UK Notify cannot set an email in large print" in report.data.detail


async def test_a_message_notify_refuses_goes_to_a_person(store, channels, notify, settings):
    await know(store, person(contact_method="sms", phone="+33 6 12 34 56 78"), PARTNER)
    await deliver(store, channels, published())
    (report,) = await reports(store)
    assert (report.data.channel, report.data.status) == ("person", "needs_a_person")
    assert "Not a UK mobile number" in report.data.detail and "+33" not in report.data.detail
    (task,) = settings.tasks_dir.glob("*.txt")
    assert "Dear Amira Ahmed" in task.read_text()


async def test_a_notify_outage_is_retried_and_then_sent_once(store, channels, notify):
    await know(store, person(), PARTNER)
    notify.fail_next = [500]
    event = published()
    with pytest.raises(TryAgain) as failure:
        await deliver(store, channels, event)
    assert "500" in str(failure.value.__cause__)
    (row,) = await delivery_rows(store)
    assert row.status == "retrying" and await reports(store) == []
    await deliver(store, channels, event)
    assert len(notify.received) == 1
    (report,) = await reports(store)
    assert report.data.status == "sent"


async def test_a_wrong_key_is_refused_and_nothing_is_reported_sent(store, notify, settings):
    wrong = f"pairing_test-{SERVICE_ID}-{uuid.uuid4()}"
    channels = make_channels(settings.model_copy(update={"notify_api_key": SecretStr(wrong)}))
    await know(store, person(), PARTNER)
    with pytest.raises(TryAgain) as failure:
        await deliver(store, channels, published())
    assert "403" in str(failure.value.__cause__)
    assert notify.received == [] and await reports(store) == []


def test_notify_formatting_keeps_headings_lists_and_full_link_addresses():
    from services.notifier.domain.messages import parse_blocks

    blocks = tuple(parse_blocks("# Title\n## Part\n### Sub\n- one\n- two\n[Say yes](http://x/y)\nWords.\n"))
    assert notify_markdown(blocks) == "# Part\n\n# Sub\n* one\n* two\n\nSay yes:\nhttp://x/y\n\nWords.\n"


# ---- what Notify says later became of a message ----


async def sent_through_notify(store, channels, notify, contact) -> tuple[handlers.Notifier, FrozenClock, str]:
    """One outcome sent through Notify at DAYTIME; the notifier, its clock and Notify's id for the message."""
    await know(store, contact, PARTNER)
    clock = FrozenClock(DAYTIME)
    n = notifier(store, channels, clock=clock)
    await handlers.on_event(n, published())
    (notification,) = notify.kinds
    return n, clock, notification


async def test_a_message_notify_reports_delivered_is_reported_delivered(store, channels, notify, settings):
    n, clock, notification = await sent_through_notify(store, channels, notify, person())
    (row,) = await delivery_rows(store)
    assert row.notify_id == notification and row.status == "sent"
    checker = receipt_checker(settings, n)
    assert await checker.run_due() == 0 and notify.asked == [], "not asked before NOTIFIER_NOTIFY_RECEIPT_SECONDS"

    clock.advance(seconds=61)
    assert await checker.run_due() == 1
    assert notify.asked == [notification]
    assert [r.data.status for r in await reports(store)] == ["sent"], "still sending: nothing new to report"

    notify.statuses[notification] = "delivered"
    clock.advance(seconds=30)
    assert await checker.run_due() == 0, "asked less often as the message gets older"
    clock.advance(seconds=91)
    assert await checker.run_due() == 1
    sent, delivered = await reports(store)
    assert (delivered.data.channel, delivered.data.status, delivered.data.about) == ("email", "delivered", "outcome")
    assert delivered.data.outcome_event_id == sent.data.outcome_event_id
    assert delivered.data.detail == "GOV.UK Notify says it was delivered"
    (row,) = await delivery_rows(store)
    assert row.status == "delivered"

    clock.advance(days=1)
    assert await checker.run_due() == 0 and len(notify.asked) == 2, "a final status is not asked about again"


async def test_a_stopping_receipt_checker_asks_nothing_more_and_the_message_stays_due(store, channels, notify, settings):
    n, clock, notification = await sent_through_notify(store, channels, notify, person())
    clock.advance(seconds=61)
    stopping = receipt_checker(settings, n)
    stopping.stopping.set()  # as stop() does while a pass is under way
    await stopping.run_due()
    assert notify.asked == []
    assert await receipt_checker(settings, n).run_due() == 1 and notify.asked == [notification]


async def test_a_permanent_failure_is_reported_failed_with_the_reason(store, channels, notify, settings):
    n, clock, notification = await sent_through_notify(
        store, channels, notify, person(contact_method="sms", phone="07700 900123")
    )
    notify.statuses[notification] = "permanent-failure"
    clock.advance(seconds=61)
    assert await receipt_checker(settings, n).run_due() == 1
    _, failed = await reports(store)
    assert (failed.data.channel, failed.data.status) == ("sms", "failed")
    assert failed.data.detail == "GOV.UK Notify says the phone number does not take text messages; a person should check it"
    assert "07700" not in failed.data.detail
    (row,) = await delivery_rows(store)
    assert (row.status, row.detail) == ("failed", failed.data.detail)


async def test_a_letter_printed_and_posted_stays_sent_and_is_no_longer_asked_about(store, channels, notify, settings):
    address = "1 Example Street\nNewcastle upon Tyne\nNE1 1AA"
    n, clock, notification = await sent_through_notify(
        store, channels, notify, person(contact_method="letter", postal_address=address)
    )
    checker = receipt_checker(settings, n)
    notify.statuses[notification] = "accepted"
    clock.advance(seconds=61)
    assert await checker.run_due() == 1
    notify.statuses[notification] = "received"
    clock.advance(hours=1)
    assert await checker.run_due() == 1
    assert [r.data.status for r in await reports(store)] == ["sent"], "the post never says it arrived"
    (row,) = await delivery_rows(store)
    assert row.status == "sent" and "printed and posted by GOV.UK Notify" in row.detail
    clock.advance(days=1)
    assert await checker.run_due() == 0 and len(notify.asked) == 2


async def test_notify_is_asked_for_seven_days_at_most_and_never_about_a_letter_printed_here(store, channels, notify, settings):
    n, clock, _ = await sent_through_notify(store, channels, notify, person())
    address = "1 Example Street, Newcastle upon Tyne, NE1 1AA"
    await know(
        store, person(leader_id="pl-2", contact_method="letter", postal_address=address, information_format="large_print_24")
    )
    await handlers.on_event(n, published("pl-2"))
    assert len(notify.received) == 1, "the large print letter went to our print queue"
    checker = receipt_checker(settings, n)
    for _ in range(8 * 24):
        clock.advance(hours=1)
        await checker.run_due()
    assert len(notify.asked) == 7 * 24, "hourly once the message is an hour old, for 7 days, then not at all"
    assert set(notify.asked) == set(notify.kinds), "only the message Notify sent is asked about"
    assert [r.data.status for r in await reports(store)] == ["sent", "sent"]


def test_only_notify_is_asked_what_became_of_a_message(store, channels, settings):
    local = NotifierSettings(encryption_keys=KEY, event_keys=KEY)
    assert receipt_checker(local, notifier(store, make_channels(local))) is None, "an SMTP server tells us nothing more"
    assert receipt_checker(settings, notifier(store, channels)) is not None
