"""GOV.UK Notify behind the Channel port: email, text messages and letters.

Each kind uses one Notify template set up by the programme team that holds
only placeholders, so the words stay in this service's templates (and in its
readability test):

- email: subject `((subject))`, message `((body))`;
- text message: `((body))`;
- letter: heading `((subject))`, content `((body))`; Notify takes the address
  from `address_line_1` to `address_line_7` (the name first, the postcode last).

What Notify cannot do is never done silently a lesser way (Always Event 2):
it sets emails and letters in its own type size, so a large print or easy read
letter goes to the local print queue instead (`ByFormat` in app.py), and a
large print email goes to a person. The Notify client is synchronous
(requests), so it runs in a thread; a client is made per call, because the
library says its client is not thread-safe.

Notify says later what became of a message (`NotifyChannel.receipt`, asked by
receipts.py): `read_receipt` turns its status into ours, in plain words.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from notifications_python_client.errors import HTTPError
from notifications_python_client.notifications import NotificationsAPIClient

from schemas.events import LeaderContact
from services.notifier.adapters.channels import CannotUseChannel, Channel
from services.notifier.adapters.letters import address_lines
from services.notifier.compose import PlannedMessage
from services.notifier.domain.messages import Block

Kind = Literal["email", "sms", "letter"]
# The formats Notify can honour for each kind; text messages are shown at the size the phone is set to.
CAN_SET = {"email": {"standard", "easy_read"}, "sms": {"standard", "large_print", "easy_read"}, "letter": {"standard"}}
AS_WORDS = {"email": "an email", "sms": "a text message", "letter": "a letter"}
# Notify refuses a letter address of more or fewer lines than these.
ADDRESS_LINES = (3, 7)


class SentByNotify(str):
    """The note a channel returns for the report, also carrying Notify's id for the message."""

    notification_id: str

    def __new__(cls, note: str, notification_id: str) -> SentByNotify:
        sent = super().__new__(cls, note)
        sent.notification_id = notification_id
        return sent


@dataclass(frozen=True)
class Receipt:
    """What Notify's status for a message means here."""

    final: bool  # Notify will not change it again: stop asking
    status: Literal["delivered", "failed"] | None = None  # the report to make; None: nothing new to report
    detail: str = ""


STILL_GOING = Receipt(final=False)
# Notify's statuses: https://docs.notifications.service.gov.uk/python.html ("Get the status of one message").
# Those not named here (created, sending, pending, accepted, pending-virus-check, and any new one) are not final.
FAILURES = {
    ("email", "permanent-failure"): "the email address does not accept messages; a person should check it",
    ("email", "temporary-failure"): (
        "the person's inbox was full or turned the email away; a person should try again later or reach them another way"
    ),
    ("sms", "permanent-failure"): "the phone number does not take text messages; a person should check it",
    ("sms", "temporary-failure"): (
        "the phone was off or could not take the text message; a person should try again later or reach them another way"
    ),
    (
        "letter",
        "permanent-failure",
    ): "the printer could not print the letter, so it was not posted; a person should send it again",
    ("letter", "validation-failed"): (
        "GOV.UK Notify could not print the letter as it was (often the address); a person should check it"
    ),
    ("letter", "virus-scan-failed"): "GOV.UK Notify did not post the letter; a person should send it again",
    ("letter", "cancelled"): "the letter was cancelled in GOV.UK Notify before it was posted; a person should check why",
}
TECHNICAL = "GOV.UK Notify could not send it because of a fault on its side; a person should send it again"
SENT_ONLY = {
    # As far as anyone can know: the post and text messages abroad give no receipt.
    ("letter", "received"): "printed and posted by GOV.UK Notify; the post does not tell us when it arrives",
    ("sms", "sent"): "sent abroad; GOV.UK Notify is not told whether it arrived",
}


def read_receipt(kind: str, status: str) -> Receipt:
    """Notify's status for a message, as a report: delivered, failed with why, or not final yet."""
    if status == "delivered":
        return Receipt(True, "delivered", "GOV.UK Notify says it was delivered")
    if (kind, status) in FAILURES:
        return Receipt(True, "failed", f"GOV.UK Notify says {FAILURES[kind, status]}")
    if status == "technical-failure":
        return Receipt(True, "failed", TECHNICAL)
    if (kind, status) in SENT_ONLY:
        return Receipt(True, None, SENT_ONLY[kind, status])
    return STILL_GOING


def notify_markdown(blocks: tuple[Block, ...]) -> str:
    """Our blocks in the formatting Notify understands. The title is left out: it is the subject."""
    lines: list[str] = []
    for block in blocks:
        if block.kind == "h1":
            continue
        if block.kind in ("h2", "h3"):
            lines += ["", f"# {block.text}"]
        elif block.kind == "li":
            lines.append(f"* {block.text}")
        elif block.kind == "link":
            # A bare address is always made a link, in every email program and on paper.
            lines += ["", f"{block.text}:", block.url]
        else:
            lines += ["", block.text]
    return "\n".join(lines).strip() + "\n"


def personalisation(kind: Kind, message: PlannedMessage, to: LeaderContact) -> dict[str, str]:
    if kind == "sms":
        return {"body": message.sms}
    fields = {"subject": message.subject, "body": notify_markdown(message.blocks)}
    if kind == "letter":
        lines = address_lines(to)
        fields |= {f"address_line_{i}": line for i, line in enumerate(lines, start=1)}
    return fields


class NotifyChannel:
    def __init__(
        self,
        kind: Kind,
        template_id: str,
        api_key: str,
        base_url: str = "https://api.notifications.service.gov.uk",
        timeout: float = 30,
        client: Callable[[], NotificationsAPIClient] | None = None,
    ):
        self.kind, self.template_id = kind, template_id
        self.client = client or (lambda: NotificationsAPIClient(api_key, base_url=base_url, timeout=timeout))

    def check(self, message: PlannedMessage, to: LeaderContact) -> None:
        """Raise CannotUseChannel for a message Notify cannot deliver as the person needs it."""
        if message.route.style not in CAN_SET[self.kind]:
            style = message.route.style.replace("_", " ")
            raise CannotUseChannel(f"GOV.UK Notify cannot set {AS_WORDS[self.kind]} in {style}")
        if self.kind == "email" and not to.email:
            raise CannotUseChannel("no email address on record")
        if self.kind == "sms" and not to.phone:
            raise CannotUseChannel("no mobile phone number on record")
        if self.kind == "letter":
            if not to.postal_address:
                raise CannotUseChannel("no postal address on record")
            count = len(address_lines(to))
            if not ADDRESS_LINES[0] <= count <= ADDRESS_LINES[1]:
                raise CannotUseChannel(f"GOV.UK Notify needs a postal address of 3 to 7 lines with the name, not {count}")

    def _send(self, message: PlannedMessage, to: LeaderContact, key: str) -> dict:
        client = self.client()
        fields = personalisation(self.kind, message, to)
        # The reference is our delivery key: it finds the message in Notify, and names no one.
        if self.kind == "email":
            return client.send_email_notification(to.email, self.template_id, personalisation=fields, reference=key)
        if self.kind == "sms":
            return client.send_sms_notification(to.phone, self.template_id, personalisation=fields, reference=key)
        return client.send_letter_notification(self.template_id, fields, reference=key)

    async def send(self, message: PlannedMessage, to: LeaderContact, key: str) -> str:
        self.check(message, to)
        try:
            sent = await asyncio.to_thread(self._send, message, to, key)
        except HTTPError as exc:
            if exc.status_code == 400:
                # Notify refused this message (say, not a mobile number): trying again will not help.
                raise CannotUseChannel(f"GOV.UK Notify refused it: {refusal(exc)}") from exc
            raise  # a fault on the way (403 key, 429 too many, 5xx): the caller retries, then reports it failed
        notification_id = str(sent.get("id", ""))
        note = f"sent by GOV.UK Notify as {AS_WORDS[self.kind]} (notification {notification_id or 'unknown'})"
        return SentByNotify(note, notification_id)

    async def receipt(self, notification_id: str) -> Receipt:
        """What Notify says became of a message it took. Raises on a fault on the way (ask again later)."""
        try:
            found = await asyncio.to_thread(lambda: self.client().get_notification_by_id(notification_id))
        except HTTPError as exc:
            if exc.status_code in (400, 404):
                # Notify keeps a message for 7 days (unless the service keeps data longer), then forgets it.
                return Receipt(final=True, detail="GOV.UK Notify no longer holds what became of it")
            raise
        return read_receipt(str(found.get("type", "")), str(found.get("status", "")))


def refusal(exc: HTTPError) -> str:
    """Notify's reason, which names fields, never their values; shortened for the report."""
    message = exc.message
    if isinstance(message, list):
        message = "; ".join(str(e.get("message", e)) if isinstance(e, dict) else str(e) for e in message)
    return str(message)[:200]


class ByFormat:
    """Sends what Notify can set through Notify, and the rest (large print, easy read letters) another way."""

    def __init__(self, notify: NotifyChannel, otherwise: Channel):
        self.notify, self.otherwise = notify, otherwise

    async def send(self, message: PlannedMessage, to: LeaderContact, key: str) -> str:
        if message.route.style in CAN_SET[self.notify.kind]:
            return await self.notify.send(message, to, key)
        return await self.otherwise.send(message, to, key)
