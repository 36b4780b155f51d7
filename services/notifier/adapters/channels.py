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
import os
import re
import tempfile
from collections.abc import Callable, Mapping
from email.mime.image import MIMEImage
from email.utils import formataddr, formatdate, parseaddr
from functools import lru_cache
from pathlib import Path
from typing import Protocol

import aiosmtplib
from aiosmtplib.protocol import normalize_message_line_endings

from schemas.events import LeaderContact
from services.notifier.adapters.calendar import invitation_ics
from services.notifier.adapters.letters import LetterCannotBeMade, letter_pdf
from services.notifier.adapters.mime import header_line, multipart, part_bytes, text_part, utf8_header_line
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
        self.sender_address = parseaddr(sender)[1]  # as send_message takes it from the From header
        self._idle: list[aiosmtplib.SMTP] = []
        self._slots = asyncio.Semaphore(connections)

    async def send(self, message: PlannedMessage, to: LeaderContact, key: str) -> str:
        if not to.email:
            raise CannotUseChannel("no email address on record")
        # Written as bytes here, once (adapters/mime.py): the same bytes aiosmtplib's send_message
        # would make of the email package's message, for much less CPU.
        email = flat_email(message, self.sender, to.email, key)
        async with self._slots:
            client = self._idle.pop() if self._idle else None
            try:
                client = await self._send(client, to.email, email)
            except (aiosmtplib.SMTPServerDisconnected, ConnectionError):
                # The server closed a connection we kept open: once more, on a new one.
                client = await self._send(None, to.email, email)
            self._idle.append(client)
        return "emailed"

    async def _send(self, client: aiosmtplib.SMTP | None, to: str, email: bytes) -> aiosmtplib.SMTP:
        if client is None or not client.is_connected:
            client = aiosmtplib.SMTP(hostname=self.host, port=self.port, timeout=self.timeout)
            await client.connect()
        try:
            await send_bytes(client, self.sender_address, to, email)
        except BaseException:
            await goodbye(client)  # after a refusal part way through, start the next message afresh
            raise
        return client

    async def close(self) -> None:
        idle, self._idle = self._idle, []
        for client in idle:
            await goodbye(client)


async def mail_options(client: aiosmtplib.SMTP, sender: str, to: str) -> list[str]:
    """What aiosmtplib's send_message asks of the server for a message: 8-bit bodies when it takes
    them, and international addresses when one is not plain ASCII (sendmail refuses it if the server cannot)."""
    if client.is_ehlo_or_helo_needed:
        try:
            await client.ehlo()
        except aiosmtplib.SMTPHeloError:
            await client.helo()  # an older server: plain SMTP
    options = [] if (sender + to).isascii() else ["SMTPUTF8"]
    if client.supports_extension("8BITMIME"):
        options.append("BODY=8BITMIME")
    return options


async def send_bytes(client: aiosmtplib.SMTP, sender: str, to: str, email: bytes) -> None:
    """What aiosmtplib's sendmail says to the server for one recipient (MAIL with the message's size
    and options, RCPT, DATA), less what it does twice: it looks at each address before MAIL and RCPT
    look at it again, and goes over the whole message to count its size before DATA goes over it
    (and DATA itself goes over it twice more: send_data)."""
    options = await mail_options(client, sender, to)
    encoding = "utf-8" if "SMTPUTF8" in options else "ascii"
    if encoding == "utf-8" and not client.supports_extension("smtputf8"):
        raise aiosmtplib.SMTPNotSupported("SMTPUTF8 is not supported by this server")
    if client.supports_extension("size"):
        options.insert(0, f"size={sent_size(email)}")
    await client.mail(sender, options=options, encoding=encoding)
    await client.rcpt(to, encoding=encoding)
    await send_data(client, email)


async def send_data(client: aiosmtplib.SMTP, email: bytes) -> None:
    """DATA and the message, as aiosmtplib's `data` says them. For a message without a carriage return
    (the notifier's own) the bytes it sends are made with two plain replaces (data_payload) instead of
    its two regular expressions over the whole message, which cost more than writing the message did."""
    if b"\r" in email:
        await client.data(email)
        return
    start = await client.execute_command(b"DATA")
    if start.code != aiosmtplib.SMTPStatus.start_input:
        raise aiosmtplib.SMTPDataError(start.code, start.message)
    if client.protocol is None:
        raise aiosmtplib.SMTPServerDisconnected("Connection lost")
    try:
        client.protocol.write(data_payload(email))
        done = await client.protocol.read_response(timeout=client.timeout)
    except (aiosmtplib.SMTPServerDisconnected, aiosmtplib.SMTPTimeoutError):
        client.close()  # as aiosmtplib's `data` does: a connection given up on part way is not used again
        raise
    if done.code != aiosmtplib.SMTPStatus.completed:
        raise aiosmtplib.SMTPDataError(done.code, done.message)


def data_payload(email: bytes) -> bytes:
    """A message without a carriage return as DATA sends it (aiosmtplib's execute_data_command): each line
    ending a CRLF and one at the end, a full stop starting a line doubled, and a line with a full stop to end."""
    payload = email.replace(b"\n", b"\r\n")
    if not payload.endswith(b"\r\n"):
        payload += b"\r\n"
    if payload.startswith(b"."):
        payload = b"." + payload
    return payload.replace(b"\n.", b"\n..") + b".\r\n"


def sent_size(email: bytes) -> int:
    """The message's size as DATA sends it (RFC 1870: each line ending a CRLF, and one at the end),
    as aiosmtplib's sendmail counts it; without a carriage return in it (the notifier's own), counted directly."""
    if b"\r" in email:
        return len(normalize_message_line_endings(email))
    return len(email) + email.count(b"\n") + (0 if email.endswith(b"\n") else 2)


async def goodbye(client: aiosmtplib.SMTP) -> None:
    if client.is_connected:
        try:
            await client.quit()
        except (TimeoutError, aiosmtplib.SMTPException, OSError):
            client.close()


def message_id(idempotency_key: str) -> str:
    return "<" + re.sub(r"[^A-Za-z0-9.-]", ".", idempotency_key) + "@pairing.local>"


@lru_cache(maxsize=64)
def picture_part(name: str) -> bytes:
    """An easy read picture, attached inline: read, encoded and written once, not once a message."""
    image = MIMEImage((PICTURES / f"{name}.png").read_bytes(), "png")
    image.add_header("Content-ID", f"<{picture_cid(name)}>")
    image.add_header("Content-Disposition", "inline", filename=f"{name}.png")
    return part_bytes(image)


@lru_cache(maxsize=16)
def from_line(sender: str) -> bytes:
    return header_line("From", formataddr(parseaddr(sender)))  # a name beyond plain ASCII is encoded, the address kept


def subject_line(subject: str) -> bytes:
    """Plain ASCII as it is, so the saved message reads plainly; anything else encoded, as email needs.
    Not kept in memory: a subject may name someone ("A message for ...")."""
    return header_line("Subject", subject, kept=False) if subject.isascii() else utf8_header_line("Subject", subject)


def flat_email(planned: PlannedMessage, sender: str, to: str, key: str, stamp: dt.datetime | None = None) -> bytes:
    """The email as sent: plain text and HTML as alternatives, and the suggested meeting as a
    calendar file. Written as the bytes directly (adapters/mime.py): the same bytes as the email
    package's MIMEMultipart and MIMEText classes give, through aiosmtplib's send_message."""
    stamp = stamp or dt.datetime.now(dt.UTC)
    html = text_part(planned.html, "html")
    if pictures := pictures_in(planned.blocks):
        # Easy read: the pictures travel inside the email (multipart/related, shown inline by Content-ID).
        html = multipart("related", [html, *(picture_part(name) for name in pictures)])
    headers = [
        from_line(sender),
        header_line("To", to, kept=False),  # a person's address: not kept in memory after their message
        subject_line(planned.subject),
        header_line("Date", formatdate(stamp.timestamp())),
        # The same key always gives the same Message-ID, so a resend after a crash can be recognised.
        header_line("Message-ID", message_id(key), kept=False),
        header_line("X-Pairing-Key", key, kept=False),
    ]
    parts = [text_part(planned.text, "plain"), html]
    if not planned.meetings:
        return multipart("alternative", parts, b"".join(headers))
    ics = invitation_ics(planned.meetings, planned.round_id, planned.leader_id, stamp)
    body = multipart("alternative", parts)
    return multipart("mixed", [body, text_part(ics.decode(), "calendar")], b"".join(headers))


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
