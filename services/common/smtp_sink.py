"""A local email server that keeps every message in a maildir folder.

It is a real SMTP server (aiosmtpd): the notifier talks to it exactly as it
would to a relay. Each message is one file that any mail program, or a text
editor, can open.
"""

from __future__ import annotations

from pathlib import Path

from aiosmtpd.controller import Controller
from aiosmtpd.handlers import Mailbox


def start_sink(maildir: Path, port: int, host: str = "127.0.0.1") -> Controller:
    for folder in ("cur", "new", "tmp"):  # a maildir is these three folders
        (maildir / folder).mkdir(parents=True, exist_ok=True)
    controller = Controller(Mailbox(maildir), hostname=host, port=port)
    controller.start()
    return controller
