"""The email channel says to a real SMTP server (aiosmtpd) what aiosmtplib's own sendmail says.

SmtpChannel sends MAIL, RCPT and DATA itself (adapters/channels.py send_bytes), counting the
message's size its own way. Here the same message goes to the same kind of server both ways, and
what the server received (sender, options with the size, recipients, the bytes) must be the same:
for plain addresses, an address beyond ASCII (with a server that takes it and one that does not),
and messages with lines starting with a full stop, with carriage returns and without."""

from __future__ import annotations

import aiosmtplib
import pytest
from aiosmtpd.controller import Controller

from services.common.embedded import free_port, read_maildir
from services.notifier.adapters.channels import flat_email, mail_options, send_bytes
from services.notifier.compose import plan_message
from tests.integration.notifier_world import PARTNER, PROGRAMME, person, published

pytestmark = pytest.mark.integration

SENDER = "pairing@example.nhs.uk"


class Recorder:
    """Keeps what each message's envelope and data were, as the server received them."""

    def __init__(self) -> None:
        self.received: list[tuple[str, list[str], list[str], bytes]] = []

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's name for the hook
        self.received.append(
            (envelope.mail_from, list(envelope.mail_options), list(envelope.rcpt_tos), envelope.original_content)
        )
        return "250 Message accepted"


@pytest.fixture(params=[True, False], ids=["server takes international addresses", "plain server"])
def server(request):
    recorder = Recorder()
    port = free_port()
    controller = Controller(recorder, hostname="127.0.0.1", port=port, enable_SMTPUTF8=request.param)
    controller.start()
    try:
        yield port, recorder, request.param
    finally:
        controller.stop()


async def both_ways(port: int, to: str, email: bytes) -> list[BaseException | None]:
    """The message sent by aiosmtplib's sendmail, then by the channel's send_bytes; each one's error, if any."""
    errors: list[BaseException | None] = []
    for ours in (False, True):
        client = aiosmtplib.SMTP(hostname="127.0.0.1", port=port, timeout=10)
        await client.connect()
        try:
            if ours:
                await send_bytes(client, SENDER, to, email)
            else:
                await client.sendmail(SENDER, [to], email, mail_options=await mail_options(client, SENDER, to))
            errors.append(None)
        except aiosmtplib.SMTPException as exc:
            errors.append(exc)
        finally:
            client.close()
    return errors


async def test_the_server_receives_the_same_as_from_aiosmtplibs_sendmail(server):
    port, recorder, international = server
    planned = plan_message(published().data, person(), {PARTNER.leader_id: PARTNER}, PROGRAMME)
    email = flat_email(planned, f"Programme <{SENDER}>", "amira@example.org", "e1:pl-1:email")
    awkward = email + b".a line starting with a full stop\r\nand\rcarriage returns\r\n.\r\n"
    dots = b"." + email + b".a line starting with a full stop\n.\n.."  # no carriage return: send_data's own bytes
    sent = (("amira@example.org", email), ("amira@example.org", awkward), ("amira@example.org", dots), ("zoë@example.org", email))
    for to, message in sent:
        recorder.received.clear()
        errors = await both_ways(port, to, message)
        if to.isascii() or international:
            assert errors == [None, None]
            theirs, ours = recorder.received
            assert ours == theirs
            assert any(option.startswith("SIZE=") for option in ours[1]) and ours[2] == [to]
        else:
            assert [type(error) for error in errors] == [aiosmtplib.SMTPNotSupported] * 2
            assert recorder.received == []


async def test_the_local_email_server_keeps_an_email_to_an_address_beyond_plain_ascii(smtp_server):
    """`make run`'s email server (smtp-sink) takes an address like zoë@example.org (aiosmtpd's Controller
    offers SMTPUTF8 unless told not to) and keeps the email as it arrived, with who it was for."""
    port, maildir = smtp_server
    planned = plan_message(published().data, person(), {PARTNER.leader_id: PARTNER}, PROGRAMME)
    email = flat_email(planned, f"Programme <{SENDER}>", "zoë@example.org", "e1:pl-1:email")
    client = aiosmtplib.SMTP(hostname="127.0.0.1", port=port, timeout=10)
    await client.connect()
    try:
        await send_bytes(client, SENDER, "zoë@example.org", email)
    finally:
        await client.quit()
    (kept,) = read_maildir(maildir)
    assert kept["X-RcptTo"] == "zoë@example.org" and kept["Subject"] == planned.subject
