"""Structured logs: one JSON object a line, with the service and the correlation id
(the round a flow is about), so one round can be followed across services.

Log messages name rounds and events only, never a person: no name, contact detail or need,
and not a person's id either (an erased person's id must be found in no log or trace).
"""

from __future__ import annotations

import contextvars
import datetime as dt
import json
import logging
import os
import re

from schemas.topics import DEAD_LETTERS, LEADER_CONTACTS, LEADER_KEYS, LEADER_PROFILES

correlation_id: contextvars.ContextVar[str | None] = contextvars.ContextVar("correlation_id", default=None)


# Our own messages name ids only, but an error from a library can quote what it was given:
# a mail server refusing an address, say. Contact details are taken out of every line.
EMAIL = re.compile(r"[^@\s'\"<>(),;:]+@[^@\s'\"<>(),;:]+\.[A-Za-z]{2,}")
# 07700 900123, +44 7700 900123, 0044 7700 900123, +44 (0)20 7946 0958, (020) 7946 0958
UK_PHONE = re.compile(r"(?<![\w-])(?:(?:\+|00)44\s?(?:\(0\)\s?)?|\(?0)(?:\d\)?[\s-]?){8,9}\d(?![\w-])")
REMOVED = "[contact detail removed]"


def redact(text: str) -> str:
    return UK_PHONE.sub(REMOVED, EMAIL.sub(REMOVED, text))


class RedactingFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record))


class JsonFormatter(logging.Formatter):
    def __init__(self, service: str):
        super().__init__()
        self.service = service

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "service": self.service,
            "logger": record.name,
            "message": redact(record.getMessage()),
        }
        if cid := correlation_id.get():
            entry["correlation_id"] = cid
        if record.exc_info:
            entry["error"] = redact(self.formatException(record.exc_info))
        return json.dumps(entry, ensure_ascii=False)


def configure_logging(service: str) -> None:
    """JSON lines by default; LOG_FORMAT=plain gives lines for reading by eye."""
    handler = logging.StreamHandler()
    if os.environ.get("LOG_FORMAT", "json").lower() == "plain":
        handler.setFormatter(RedactingFormatter(f"%(asctime)s {service} %(levelname)s %(name)s: %(message)s"))
    else:
        handler.setFormatter(JsonFormatter(service))
    logging.basicConfig(level=os.environ.get("LOG_LEVEL", "INFO").upper(), handlers=[handler], force=True)
    logging.getLogger("aiokafka").setLevel(logging.WARNING)


# Events about one person carry that person's id as their correlation id, and a dead letter the
# correlation id and key of the record it stands for: logs and traces leave those out.
ABOUT_A_PERSON = frozenset(t.name for t in (LEADER_PROFILES, LEADER_CONTACTS, LEADER_KEYS))


def names_a_person(topic: str | None, key: bytes | str | None, correlation: str | None) -> bool:
    """Whether a record's correlation id is a person's id: always on the topics about one person; on the
    dead-letter topic unless it differs from the key (a round's). Outcomes and delivery reports are
    keyed by person but correlated by round, so theirs stays."""
    if not correlation:
        return False
    if topic in ABOUT_A_PERSON:
        return True
    if topic != DEAD_LETTERS.name:
        return False
    text = key.decode(errors="replace") if isinstance(key, bytes) else str(key or "")
    return not text or correlation in (text, text.removeprefix("b'").removesuffix("'"))


def without_person(key: str) -> str:
    """A message's key (event id, person id and channel) as a log may show it: the event and channel only."""
    event, _, rest = key.partition(":")
    channel = rest.partition(":")[2]
    return f"{event}:{channel}" if channel else event


def correlation_of(body: bytes | None) -> str | None:
    """The correlation id of an event, read without trusting the rest of the body."""
    try:
        value = json.loads(body or b"null")
    except (ValueError, UnicodeDecodeError):
        return None
    cid = value.get("correlation_id") if isinstance(value, dict) else None
    return str(cid)[:200] if cid else None
