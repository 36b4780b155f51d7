"""A local email server that keeps every message in a maildir folder.

It is a real SMTP server (aiosmtpd): the notifier talks to it exactly as it
would to a relay. Each message is one file that any mail program, or a text
editor, can open.
"""

from __future__ import annotations

import mailbox
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller


class Maildir:
    """Saves each message as it arrived, with who sent it to whom written on top (as a relay adds its
    trace lines). aiosmtpd's own Mailbox parses every message and writes it out again, which took this
    server as much time as the notifier takes to write one, on the same machine."""

    def __init__(self, folder: Path):
        self.mailbox = mailbox.Maildir(folder)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802 - aiosmtpd calls it by this name
        trace = f"X-Peer: {session.peer}\nX-MailFrom: {envelope.mail_from}\nX-RcptTo: {', '.join(envelope.rcpt_tos)}\n"
        # Lines end as this machine's files do (as mailbox writes a parsed message).
        self.mailbox.add(trace.encode() + envelope.original_content.replace(b"\r\n", b"\n"))
        return "250 OK"


def start_sink(maildir: Path, port: int, host: str = "127.0.0.1") -> Controller:
    for folder in ("cur", "new", "tmp"):  # a maildir is these three folders
        (maildir / folder).mkdir(parents=True, exist_ok=True)
    controller = Controller(Maildir(maildir), hostname=host, port=port)
    controller.start()
    return controller
