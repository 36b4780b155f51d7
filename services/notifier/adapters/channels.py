"""Channels behind one port: `async send(message, to, key) -> str`.

Each channel delivers one planned message to one person, or raises. It returns
a short note of where the message went, for the delivery report (no personal
details). The idempotency key names the message everywhere (Message-ID, file
name), so a second attempt replaces rather than adds where the channel allows.

- SmtpChannel: email through an SMTP server (a relay in production, the local
  sink under `make run`).
- FileSmsChannel: there is no SMS gateway here, so each text message is written
  as a .txt file into a folder. A gateway adapter (for example GOV.UK Notify)
  would take its place behind the same port.
- PrintQueueChannel: a printable PDF letter into a print-queue folder; someone
  (or a print-and-post service) prints and posts it.
- PersonTaskChannel: for needs this service cannot meet (braille, audio, an
  interpreter, a phone call): a task file with the words to use and why.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import functools
import io
import os
import random
import re
import tempfile
from collections.abc import Callable, Mapping
from email._policybase import Compat32
from email.charset import QP, Charset
from email.generator import BytesGenerator
from email.header import Header
from email.message import Message
from email.mime.base import MIMEBase
from email.mime.image import MIMEImage
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from email.utils import formataddr, formatdate, parseaddr
from pathlib import Path
from typing import Any, Protocol

import aiosmtplib

from schemas.events import LeaderContact
from services.notifier.adapters.calendar import invitation_ics
from services.notifier.adapters.letters import LetterCannotBeMade, letter_pdf
from services.notifier.compose import PICTURES, PlannedMessage, london_date, picture_cid
from services.notifier.domain.messages import one_line, pictures_in
from services.notifier.domain.tasks import DEFAULT_TASK_DAYS, TASK_ACTIONS, TASK_TITLES, task_deadline
from services.notifier.domain.wording import full_date


class Channel(Protocol):
    async def send(self, message: PlannedMessage, to: LeaderContact, key: str) -> str: ...


class CannotUseChannel(Exception):
    """This message cannot go this way (not a passing fault): a person must send it."""


def file_name(key: str, suffix: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]", "_", key) + suffix


def write_once(folder: Path, name: str, data: bytes) -> Path:
    """Write whole or not at all; writing the same key again replaces the file, never adds one."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    handle, temporary = tempfile.mkstemp(dir=folder, prefix=".writing-")
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return path


class SmtpChannel:
    """Email over a few SMTP connections kept open between messages: connecting afresh for
    each message cost more than sending it. One connection per message sent at once."""

    def __init__(
        self,
        host: str,
        port: int,
        timeout: float,
        sender: str = "Patient leader pairing <pairing@example.nhs.uk>",
        connections: int = 1,
    ):
        self.host, self.port, self.timeout, self.sender = host, port, timeout, sender
        self._idle: list[aiosmtplib.SMTP] = []
        self._slots = asyncio.Semaphore(connections)

    async def send(self, message: PlannedMessage, to: LeaderContact, key: str) -> str:
        if not to.email:
            raise CannotUseChannel("no email address on record")
        # Built and turned into bytes away from the event loop, which meanwhile keeps other sends going.
        flat = await asyncio.to_thread(flat_email, message, self.sender, to.email, key)
        async with self._slots:
            client = self._idle.pop() if self._idle else None
            try:
                client = await self._send(client, to.email, flat)
            except (aiosmtplib.SMTPServerDisconnected, ConnectionError):
                # The server closed a connection we kept open: once more, on a new one.
                client = await self._send(None, to.email, flat)
            self._idle.append(client)
        return "emailed"

    async def _send(self, client: aiosmtplib.SMTP | None, to: str, flat: bytes) -> aiosmtplib.SMTP:
        if client is None or not client.is_connected:
            client = aiosmtplib.SMTP(hostname=self.host, port=self.port, timeout=self.timeout)
            await client.connect()
        try:
            if client.is_ehlo_or_helo_needed:
                await client.ehlo()
            sender, recipient = address_of(self.sender), address_of(to)
            await client.sendmail(sender, [recipient], flat, mail_options=mail_options(client, sender, recipient))
        except BaseException:
            await goodbye(client)  # after a refusal part way through, start the next message afresh
            raise
        return client

    async def close(self) -> None:
        idle, self._idle = self._idle, []
        for client in idle:
            await goodbye(client)


async def goodbye(client: aiosmtplib.SMTP) -> None:
    if client.is_connected:
        try:
            await client.quit()
        except (TimeoutError, aiosmtplib.SMTPException, OSError):
            client.close()


@functools.lru_cache(maxsize=1024)
def address_of(name_and_address: str) -> str:
    """The bare address, as the email server is told it (aiosmtplib's send_message does the same)."""
    return parseaddr(name_and_address)[1] or name_and_address.strip()


def mail_options(client: aiosmtplib.SMTP, sender: str, recipient: str) -> list[str]:
    """The options aiosmtplib's send_message gives the server: 8BITMIME when it takes it, and
    SMTPUTF8 for an address beyond plain ASCII (an error if the server cannot take one)."""
    options = []
    if not (sender + recipient).isascii():
        if not client.supports_extension("smtputf8"):
            raise aiosmtplib.SMTPNotSupported("an email address beyond plain ASCII, and the email server does not take one")
        options.append("SMTPUTF8")
    if client.supports_extension("8BITMIME"):
        options.append("BODY=8BITMIME")
    return options


class QuickFolding(Compat32):
    """The email package's own rules (compat32, as aiosmtplib's send_message uses for these messages),
    except that a header already short, plain and on one line is written as it is, not put through the
    folding machinery: it would come out the same, a good deal more slowly. Every other header is
    folded as before."""

    def _fold(self, name: str, value: Any, sanitize: bool) -> str:
        if (
            isinstance(value, str)
            and value.isascii()
            and value.isprintable()
            and "  " not in value
            and value == value.strip()
            and len(name) + 2 + len(value) <= (self.max_line_length or 78)
        ):
            return f"{name}: {value}{self.linesep}"
        return super()._fold(name, value, sanitize)  # type: ignore[misc]  # typeshed leaves out the private method


QUICK_FOLDING = QuickFolding()


def flat_email(planned: PlannedMessage, sender: str, to: str, idempotency_key: str) -> bytes:
    """The email as the server receives it: the bytes aiosmtplib's send_message would send."""
    with io.BytesIO() as out:
        BytesGenerator(out, policy=QUICK_FOLDING).flatten(email_message(planned, sender, to, idempotency_key))
        return out.getvalue()


def boundary() -> str:
    """A part boundary that can never occur inside a part: every part is quoted-printable or base64,
    where "=_" cannot appear. Given, not found by searching the text as the email package does; the
    random part only keeps nested parts' boundaries apart (no secret, so no call to the system for it)."""
    return f"=_{random.getrandbits(96):024x}"


@functools.lru_cache(maxsize=64)
def picture(name: str) -> bytes:
    """An easy read picture, read once."""
    return (PICTURES / f"{name}.png").read_bytes()


@functools.lru_cache(maxsize=16)
def from_header(sender: str) -> str:
    """The From header: a name beyond plain ASCII is encoded, the address kept (the same for every message)."""
    return formataddr(parseaddr(sender))


def message_id(idempotency_key: str) -> str:
    return "<" + re.sub(r"[^A-Za-z0-9.-]", ".", idempotency_key) + "@pairing.local>"


# Quoted-printable: any line length is safe, and the saved message stays readable in a text editor.
UTF8 = Charset("utf-8")
UTF8.body_encoding = QP


def header(text: str) -> str | Header:
    """Plain ASCII as it is, so the saved message reads plainly; anything else encoded, as email needs."""
    return text if text.isascii() else Header(text, "utf-8")


def email_message(
    planned: PlannedMessage, sender: str, to: str, idempotency_key: str, stamp: dt.datetime | None = None
) -> Message:
    """Plain text and HTML as alternatives, and the suggested meeting as a calendar file.

    Built with the email package's older classes: the same message on the wire, in a
    quarter of the time (the newer EmailMessage parses every header it is given).
    """
    body = MIMEMultipart("alternative", boundary())
    body.attach(MIMEText(planned.text, "plain", UTF8))  # type: ignore[arg-type]  # typeshed allows only a name; the email package takes a Charset too
    html: MIMEBase = MIMEText(planned.html, "html", UTF8)  # type: ignore[arg-type]  # typeshed allows only a name; the email package takes a Charset too
    if pictures := pictures_in(planned.blocks):
        # Easy read: the pictures travel inside the email (multipart/related, shown inline by Content-ID).
        related = MIMEMultipart("related", boundary())
        related.attach(html)
        for name in pictures:
            image = MIMEImage(picture(name), "png")
            image.add_header("Content-ID", f"<{picture_cid(name)}>")
            image.add_header("Content-Disposition", "inline", filename=f"{name}.png")
            related.attach(image)
        html = related
    body.attach(html)
    message = body
    if planned.meetings:
        ics = invitation_ics(planned.meetings, planned.round_id, planned.leader_id, stamp or dt.datetime.now(dt.UTC))
        invitation = MIMEText(ics.decode(), "calendar", UTF8)  # type: ignore[arg-type]  # typeshed allows only a name; the email package takes a Charset too
        invitation.set_param("method", "PUBLISH")
        invitation.add_header("Content-Disposition", "attachment", filename="first-meeting.ics")
        message = MIMEMultipart("mixed", boundary())
        message.attach(body)
        message.attach(invitation)
    message["From"] = from_header(sender)
    message["To"] = to
    message["Subject"] = header(planned.subject)  # type: ignore[assignment]  # typeshed leaves out Header, which email takes
    message["Date"] = formatdate(localtime=False)
    # The same key always gives the same Message-ID, so a resend after a crash can be recognised.
    message["Message-ID"] = message_id(idempotency_key)
    message["X-Pairing-Key"] = idempotency_key
    return message


class FileSmsChannel:
    """Not a real SMS gateway: writes each text message to a file in `folder`."""

    def __init__(self, folder: Path):
        self.folder = folder

    async def send(self, message: PlannedMessage, to: LeaderContact, key: str) -> str:
        if not to.phone:
            raise CannotUseChannel("no mobile phone number on record")
        body = f"To: {to.phone}\n\n{message.sms}".encode()
        path = await asyncio.to_thread(write_once, self.folder, file_name(key, ".txt"), body)
        return f"text message written to {path.name} (no SMS gateway is set up here)"


class PrintQueueChannel:
    """Puts a printable PDF letter in the print-queue folder, to be printed and posted."""

    def __init__(self, folder: Path):
        self.folder = folder

    async def send(self, message: PlannedMessage, to: LeaderContact, key: str) -> str:
        if not to.postal_address:
            raise CannotUseChannel("no postal address on record")
        try:
            dated = london_date(dt.datetime.now(dt.UTC))
            pdf = await asyncio.to_thread(letter_pdf, message, to, dated)
        except LetterCannotBeMade as exc:
            raise CannotUseChannel(str(exc)) from exc
        path = await asyncio.to_thread(write_once, self.folder, file_name(key, ".pdf"), pdf)
        return f"letter in the print queue as {path.name}, to be printed and posted"


class TaskWritten(str):
    """The note for the report of a task for a person, also carrying its kind and the day it is due."""

    kind: str
    due_by: dt.date

    def __new__(cls, note: str, kind: str, due_by: dt.date) -> TaskWritten:
        written = super().__new__(cls, note)
        written.kind, written.due_by = kind, due_by
        return written


def task_kind(message: PlannedMessage) -> str:
    return message.route.task if message.route.task in TASK_ACTIONS else "contact"


class PersonTaskChannel:
    """Leaves a task for a person: what to do, by when, for whom, why, and the words of the message
    written for the format (no web addresses: links cannot be read out or put into braille)."""

    def __init__(self, folder: Path, working_days: Mapping[str, int] | None = None, today: Callable[[], dt.date] | None = None):
        self.folder = folder
        self.working_days = {**DEFAULT_TASK_DAYS, **(working_days or {})}
        self.today = today or (lambda: london_date(dt.datetime.now(dt.UTC)))

    async def send(self, message: PlannedMessage, to: LeaderContact, key: str) -> str:
        today = self.today()
        body = task_text(message, to, self.working_days, today)
        path = await asyncio.to_thread(write_once, self.folder, file_name(key, ".txt"), body.encode())
        kind = task_kind(message)
        due = task_deadline(message.answer_by, today, self.working_days[kind]).date
        return TaskWritten(f"{message.why_a_person}; task written to {path.name}", kind, due)


def task_text(message: PlannedMessage, to: LeaderContact, working_days: Mapping[str, int], today: dt.date) -> str:
    """The whole task, in plain words; no internal id when we know the person's name."""
    kind = task_kind(message)
    days = working_days[kind]
    deadline = task_deadline(message.answer_by, today, days)
    if message.contact_known:
        name = one_line(to.name)
        lines = [
            f"{TASK_TITLES[kind]} for {name}",
            "",
            f"What to do: please {TASK_ACTIONS[kind].format(name=name)}.",
        ]
        who = (
            f"Who it is for: {name}. Their address, phone number and needs are on their page in the managers' pages: "
            f"open Leaders and search for {name}."
        )
        why = f"Why a person is needed: {name} {message.why_a_person}."
    else:
        lines = ["Message to pass on", "", "What to do: please get the message below to the person it is for."]
        who = "Who it is for: see the message below."
        why = f"Why a person is needed: {message.why_a_person}."
    if message.answer_by is None:
        when = f"Do it by: {full_date(deadline.date)} ({days} working days from today)."
    elif deadline.late:
        when = (
            f"Do it by: today, {full_date(deadline.date)}. They must answer by {full_date(message.answer_by)}, "
            f"and this usually takes {days} working days, so please do it now."
        )
    else:
        when = (
            f"Do it by: {full_date(deadline.date)}, so they have it in time to answer by "
            f"{full_date(message.answer_by)} (this usually takes {days} working days)."
        )
    lines += [when, who, why]
    if message.contact_known and to.information_format not in ("standard", "email"):
        lines.append(f"Format they asked for: {to.information_format.replace('_', ' ')}.")
    return "\n".join(lines) + f"\n\n---- the message ----\n\n{without_links(message.text)}"


def without_links(text: str) -> str:
    """Belt and braces: a task is read out or transcribed, so no web address may reach it."""
    return re.sub(r"https?://\S+|www\.\S+", "(see the phone number in this message)", text)
