"""No event can carry a registry id out: every value in every event of the contract (schemas/) that can
name a person is found, and the registry's translation (services/registry/event_refs.py, its lists
PERSON_FIELDS, PEOPLE_FIELDS, PAIR_FIELDS, KEYED_BY_PERSON, HOLDING_PEOPLE and IDENTIFYING_PEOPLE) must turn it into an event
reference. A field is found by its type's mark (`LeaderId`, marked NAMES_A_PERSON in schemas/cohort.py),
and, in case someone adds one without the mark, by its name: a field named like a person (leader, partner,
person, people, professional, pair, *_id, *_ids, *_with) that can hold words must be marked, or be listed
here with the reason it names no one.

The envelope's own fields (correlation_id, causation_id) are outside `data`: the unit of work's `outward`
renames a person's correlation id with the key (tests/unit/registry/test_event_refs.py)."""

from __future__ import annotations

import inspect
import json
import re
import types
import typing
from dataclasses import dataclass
from typing import Any

import pytest
from pydantic import BaseModel
from pydantic.fields import FieldInfo

import schemas.events
from schemas.cohort import NAMES_A_PERSON
from schemas.events import Envelope
from services.registry.event_refs import renamed

pytestmark = pytest.mark.unit

ENVELOPES = sorted(
    (c for c in vars(schemas.events).values() if inspect.isclass(c) and issubclass(c, Envelope) and c is not Envelope),
    key=lambda c: c.__name__,
)
LIKE_A_PERSON = re.compile(r"(^|_)(leaders?|partners?|person|people|professional|lived_experience|pairs?|with|ids?)(_|$)")
# Fields named like a person that name no one, and why. Anything else named like a person must be a LeaderId.
NAMES_NO_ONE = {
    "round_id": "a round",
    "notification_id": "GOV.UK Notify's id for a message",
    "ProgrammeContact.person": "the programme team's contact, a member of staff, never a leader",
    "RoundSpec.id": "the round's own id",
    "min_pairs_per_system": "numbers of pairs, by health system",
    "communication_professional": "the kind of professional who helps them communicate (a BSL interpreter, say)",
}
ID = "a-registry-id"  # what the registry would hold, where a reference must go out


@dataclass(frozen=True)
class Found:
    """A value naming a person: the models around it (each a field name, and whether it is a list of them),
    its own field, and its shape: one person, a list of people, a list of pairs, or a mapping keyed by person."""

    event: str
    around: tuple[tuple[str, bool], ...]
    model: str
    field: str
    shape: str

    def __str__(self) -> str:
        return f"{self.event}: data.{'.'.join([*(name for name, _ in self.around), self.field])} ({self.shape})"


def marked(t: Any) -> bool:
    return typing.get_origin(t) is typing.Annotated and NAMES_A_PERSON in t.__metadata__


def without_none(t: Any) -> list[Any]:
    if typing.get_origin(t) in (typing.Union, types.UnionType):
        return [a for a in typing.get_args(t) if a is not type(None)]
    return [t]


def mark_within(t: Any) -> bool:
    return marked(t) or any(mark_within(a) for a in typing.get_args(t))


def shape_of(info: FieldInfo) -> str | None:
    """How a field holds people (None: it holds no one), or "unknown" for a marked shape the translation has no list for."""
    if NAMES_A_PERSON in info.metadata:
        return "person"
    for t in without_none(info.annotation):
        origin, args = typing.get_origin(t), typing.get_args(t)
        if origin is list and args and marked(args[0]):
            return "people"
        if origin is list and args and typing.get_origin(args[0]) is tuple and all(marked(a) for a in typing.get_args(args[0])):
            return "pairs"
        if origin is dict and args and marked(args[0]) and not mark_within(args[1]):
            return "keyed"
        if mark_within(t):
            return "unknown"
    return None


def can_hold_words(t: Any) -> bool:
    """Whether a value of this type could be a registry id (a string; not a fixed word, flag, number or date)."""
    if t is str:
        return True
    if typing.get_origin(t) is typing.Literal:
        return False
    return any(can_hold_words(a) for a in typing.get_args(t))


def models_in(t: Any, is_list: bool = False) -> list[tuple[type[BaseModel], bool]]:
    if inspect.isclass(t) and issubclass(t, BaseModel):
        return [(t, is_list)]
    origin = typing.get_origin(t)
    return [m for a in typing.get_args(t) for m in models_in(a, is_list or origin is list)]


def walk(event: str, model: type[BaseModel], around: tuple[tuple[str, bool], ...] = ()) -> tuple[list[Found], list[str]]:
    """Every value naming a person in this model and the models inside it; and every field named like a person
    that is not marked as one (and not listed in NAMES_NO_ONE)."""
    found: list[Found] = []
    unmarked: list[str] = []
    for name, info in model.model_fields.items():
        shape = shape_of(info)
        if shape is not None:
            found.append(Found(event, around, model.__name__, name, shape))
        elif (
            LIKE_A_PERSON.search(name)
            and can_hold_words(info.annotation)
            and not models_in(info.annotation)
            and name not in NAMES_NO_ONE
            and f"{model.__name__}.{name}" not in NAMES_NO_ONE
        ):
            unmarked.append(f"{event}: {model.__name__}.{name}")
        for inner, is_list in models_in(info.annotation):
            more, odd = walk(event, inner, (*around, (name, is_list)))
            found += more
            unmarked += odd
    return found, unmarked


def everything() -> tuple[list[Found], list[str]]:
    found: list[Found] = []
    unmarked: list[str] = []
    for envelope in ENVELOPES:
        for data, _ in models_in(envelope.model_fields["data"].annotation):
            more, odd = walk(envelope.__name__, data)
            found += more
            unmarked += odd
    return sorted(set(found), key=str), sorted(set(unmarked))


def sample(found: Found) -> dict[str, Any]:
    """The smallest event data that holds a registry id where this value is."""
    value: Any = {"person": ID, "people": [ID], "pairs": [[ID, ID]], "keyed": {ID: 1}}[found.shape]
    data: dict[str, Any] = {found.field: value}
    for name, is_list in reversed(found.around):
        data = {name: [data] if is_list else data}
    return data


def test_the_walk_finds_the_people_we_know_of():
    """The walk itself can see: a check on a list it cannot find anything in would prove nothing."""
    found = {str(f) for f in everything()[0]}
    assert {
        "OutcomePublished: data.leader_id (person)",
        "OutcomePublished: data.partners.partner_id (person)",
        "LeaderProfileChanged: data.profile.id (person)",
        "LeaderProfileChanged: data.profile.do_not_pair_with (people)",
        "RoundRequested: data.leader_versions (keyed)",
        "RoundRequested: data.left_out_before (people)",
        "RoundRequested: data.forbidden_pairs (pairs)",
        "RoundSolved: data.unmatched.id (person)",
        "RoundFeedbackShared: data.leader_ids (people)",
    } <= found
    assert "LeaderProfileChanged: data.profile.left_out_before (people)" not in found, "a profile's left_out_before is a flag"


def test_every_field_named_like_a_person_is_marked_as_one_or_names_no_one():
    _, unmarked = everything()
    assert unmarked == [], (
        "These fields look like they name a person but are not typed LeaderId (schemas/cohort.py). Type them "
        "LeaderId, so the test below checks they leave as event references, or add them to NAMES_NO_ONE with "
        f"the reason they name no one: {unmarked}"
    )


def test_every_value_naming_a_person_in_every_event_leaves_as_an_event_reference():
    found, _ = everything()
    shapes = {f.shape for f in found}
    assert "unknown" not in shapes, (
        f"a person held in a way event_refs.renamed cannot translate: {[str(f) for f in found if f.shape == 'unknown']}"
    )
    leaked = []
    for each in found:
        out = renamed(sample(each), lambda person: "p-" + "0" * 20 if person == ID else person)
        if ID in json.dumps(out):
            leaked.append(str(each))
    assert leaked == [], (
        "These would leave with the registry's id: add the field (or the model around it) to the lists in "
        f"services/registry/event_refs.py: {leaked}"
    )
