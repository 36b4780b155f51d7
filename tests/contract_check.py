"""Checking Kafka records against schemas/asyncapi.yaml with validators the project did not write
(`jsonschema` and its format checker): the payload against every message documented for the
record's topic, and the headers against the message's headers; and the round whose records the
contract tests check."""

from __future__ import annotations

import asyncio
import json
import re
from functools import cache
from urllib.parse import unquote

import httpx
import yaml
from jsonschema import Draft7Validator, FormatChecker
from jsonschema.exceptions import best_match
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT7

from schemas.topics import LEADER_CONTACTS, LEADER_PROFILES, OUTCOMES
from services.contract import ASYNCAPI_PATH
from services.launcher import Stack
from services.registry.client import RegistryClient
from services.registry.sample import SAMPLE_ROUND, sample_leaders
from tests.kafka_reading import read_topic
from tests.stack_refs import event_refs

DOCUMENT = "urn:pairing:asyncapi"


@cache
def contract() -> tuple[dict, Registry]:
    document = yaml.safe_load(ASYNCAPI_PATH.read_text())
    registry = Registry().with_resource(DOCUMENT, Resource.from_contents(document, default_specification=DRAFT7))
    return document, registry


@cache
def validators(topic: str) -> list[tuple[str, str, Draft7Validator, Draft7Validator]]:
    """(action, message name, payload validator, headers validator) for each message documented on
    `topic`: action is send for what a service writes there, receive for what one reads."""
    document, registry = contract()
    actions = {
        unquote(operation["channel"]["$ref"].removeprefix("#/channels/")): operation["action"]
        for operation in document["operations"].values()
    }
    found = []
    for channel_name, channel in document["channels"].items():
        if channel["address"] != topic:
            continue
        for reference in channel["messages"].values():
            name = unquote(reference["$ref"].removeprefix("#/components/messages/"))
            pointer = reference["$ref"].removeprefix("#")

            found.append(
                (actions[channel_name], name, validator(registry, pointer, "payload"), validator(registry, pointer, "headers"))
            )
    return found


def validator(registry: Registry, pointer: str, part: str) -> Draft7Validator:
    schema = {"$ref": f"{DOCUMENT}#{pointer}/{part}"}
    return Draft7Validator(schema, registry=registry, format_checker=FormatChecker())


def problems(topic: str, value: bytes | None, headers: dict[str, str]) -> list[str]:
    """What is wrong with one record: it must be a message some service documents sending to its
    topic, and every service documented as reading the topic must be able to read it."""
    documented = validators(topic)
    if not documented:
        return [f"{topic} is not in schemas/asyncapi.yaml"]
    against = [check(name, payload, header, value, headers) for _, name, payload, header in documented]
    sent = {name: wrong for (action, name, *_), wrong in zip(documented, against, strict=True) if action == "send"}
    read = [wrong for (action, *_), wrong in zip(documented, against, strict=True) if action == "receive"]
    wrong = [problem for found in read for problem in found]
    if not any(not found for found in sent.values()):
        wrong += [problem for found in sent.values() for problem in found] or [f"no service documents sending to {topic}"]
    return wrong


def check(name: str, payload: Draft7Validator, header: Draft7Validator, value: bytes | None, headers: dict) -> list[str]:
    wrong = []
    if not name.endswith(":DeadLetter"):  # a dead letter carries the record as it was, readable or not
        try:
            body = None if value is None else json.loads(value)
        except ValueError as exc:
            return [f"{name}: the payload is not JSON ({exc})"]
        wrong += [f"{name}: payload {explain(e)}" for e in payload.iter_errors(body)]
    return wrong + [f"{name}: headers {explain(e)}" for e in header.iter_errors(headers)]


def explain(error) -> str:
    """Where and why, from the closest of the alternatives when none of an anyOf matched."""
    closest = best_match(error.context) if error.context else error
    return f"{'/'.join(map(str, closest.absolute_path)) or '(top)'}: {closest.message[:300]}"


def run_a_round(stack: Stack, tag: str) -> dict:
    """The demo's 40 people (ids ending in `tag`): paired, approved, published, told; one says no, one
    is erased. Returns the proposed round, with `event_refs`: the people's event references."""
    client = RegistryClient(stack.base_url, auth=stack.api_token)
    leaders = [{**leader, "id": f"{leader['id']}-{tag}"} for leader in sample_leaders()]
    for leader in leaders:
        client.register_leader(leader)
    round_id = f"contract-{tag}"
    client.launch_round({**SAMPLE_ROUND, "id": round_id, "leader_ids": [leader["id"] for leader in leaders]})
    proposed = client.wait_for_round(round_id, {"proposed", "failed"}, seconds=120)
    assert proposed["status"] == "proposed", proposed.get("failure")
    client.approve(round_id, "Contract test")
    client.publish(round_id)
    told = client.wait_for_deliveries(round_id, len(leaders), seconds=120)
    assert sum(told["deliveries"].values()) == len(leaders), told["deliveries"]
    outcomes = asyncio.run(
        read_topic(stack.kafka_bootstrap, OUTCOMES, keep=lambda r: round_id.encode() in (r.value or b""), expected=len(leaders))
    )
    decline = next(p["decline_url"] for r in outcomes for p in json.loads(r.value)["data"]["partners"])
    # Whichever outcome is read first: one whose messages go to the person's named contact (a carer, say)
    # asks them to tick that they checked with the person, and thanks them for "the answer".
    said_no = httpx.post(decline.split("?")[0], data={"answer": "decline", "checked": "yes"})
    assert said_no.status_code == 200 and re.search(r"Thank you: (you said|the answer is) no", said_no.text), said_no.text
    unpaired = proposed["unmatched"][0]["id"] if proposed["unmatched"] else leaders[-1]["id"]
    # Events name people by their event references: the round's, read before one of them is erased.
    refs = {ref for leader_id, ref in asyncio.run(event_refs(stack)).items() if leader_id.endswith(f"-{tag}")}
    gone = asyncio.run(event_refs(stack))[unpaired].encode()
    assert client.http.delete(f"/leaders/{unpaired}").status_code in (200, 204)
    for topic in (LEADER_PROFILES, LEADER_CONTACTS):
        erased = asyncio.run(
            read_topic(stack.kafka_bootstrap, topic, keep=lambda r: r.key == gone and r.value is None, expected=1)
        )
        assert erased, f"no tombstone for the erased leader on {topic.name}"
    return {**proposed, "event_refs": sorted(refs)}


def headers_of(record) -> dict[str, str]:
    return {key: value.decode() for key, value in record.headers or ()}
