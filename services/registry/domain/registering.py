"""Registering a leader: which of their details are kept sealed, whether a new record changes
anything, and when a change means they have left the programme. Pure: no input or output."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

# Kept encrypted at rest: who the person is, how to reach them, and their access needs.
SEALED_FIELDS = (
    "name",
    "pronouns",
    "email",
    "phone",
    "postal_address",
    "contact_method",
    "information_format",
    "communication_professional",
    "communication_support",
    "proxy",  # the carer or other person who gets their messages: their contact details
    "access_needs",
    "challenge",
)

SEALED = frozenset(SEALED_FIELDS)  # for `in`, which searches a tuple one field at a time

Change = Literal["created", "updated", "unchanged"]
Record = tuple[Mapping[str, Any], Mapping[str, Any]]  # (public, sealed)


def split_record(record: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """A leader's record as (public, sealed): the sealed fields apart from the rest."""
    sealed = {name: record[name] for name in SEALED_FIELDS}
    public = {name: value for name, value in record.items() if name not in SEALED}
    return public, sealed


def change_of(stored: Record | None, public: Mapping[str, Any], sealed: Mapping[str, Any]) -> Change:
    """What storing this record does: `stored` is the (public, sealed) record kept now, if any. An
    unchanged record keeps its version and sends no events, so importing a file twice changes nothing."""
    if stored is None:
        return "created"
    return "unchanged" if stored == (public, sealed) else "updated"


# Every field of the leader's record their contact record (LeaderContact, on leaders.contact.v1) is made
# from (LeaderIn.contact; the proxy is shared only with its consent). tests/unit/registry/test_registering_rules.py
# fails when LeaderContact gains a field that is not covered here.
CONTACT_SOURCES = frozenset(
    {
        "name",
        "pronouns",
        "role",
        "organisation",
        "email",
        "phone",
        "postal_address",
        "contact_method",
        "information_format",
        "communication_professional",
        "communication_support",
        "proxy",
        "consents",
        "quiet_hours_start",
        "quiet_hours_end",
    }
)


# The fields of the contact record kept in the public part (every sealed field is in a sealed part).
PUBLIC_CONTACT_SOURCES = tuple(sorted(CONTACT_SOURCES - SEALED))


def contact_changed(stored: Record | None, public: Mapping[str, Any], sealed: Mapping[str, Any]) -> bool:
    """Whether the new record changes the leader's contact record. A change to what they are matched
    on alone (topics, availability) sends the notifier nothing: its copy is still right. Both parts
    come from split_record, so a sealed part holds every sealed field: the shortcut below needs that."""
    if stored is None:
        return True
    if stored[1] is sealed:  # the caller found the sealed part unchanged and kept it: only the public fields can differ
        return any(stored[0].get(field) != public.get(field) for field in PUBLIC_CONTACT_SOURCES)
    return any(_field(*stored, field) != _field(public, sealed, field) for field in CONTACT_SOURCES)


def _field(public: Mapping[str, Any], sealed: Mapping[str, Any], field: str) -> Any:
    """A field of the record (public, sealed): the sealed part's where both have it."""
    return sealed[field] if field in sealed else public.get(field)


def leaves_the_programme(status_before: str | None, status_now: str) -> bool:
    """An active leader marked withdrawn has left: every pair still open is a no from them."""
    return status_before == "active" and status_now == "withdrawn"
