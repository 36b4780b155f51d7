"""Checking Kafka records against schemas/asyncapi.yaml with validators the project did not write
(`jsonschema` and its format checker): the payload against every message documented for the
record's topic, and the headers against the message's headers."""

from __future__ import annotations

import json
from functools import cache
from urllib.parse import unquote

import yaml
from jsonschema import Draft7Validator, FormatChecker
from jsonschema.exceptions import best_match
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT7

from services.contract import ASYNCAPI_PATH

DOCUMENT = "urn:pairing:asyncapi"


@cache
def contract() -> tuple[dict, Registry]:
    document = yaml.safe_load(ASYNCAPI_PATH.read_text())
    registry = Registry().with_resource(DOCUMENT, Resource.from_contents(document, default_specification=DRAFT7))
    return document, registry


@cache
def validators(topic: str) -> list[tuple[str, Draft7Validator, Draft7Validator]]:
    """(message name, payload validator, headers validator) for each message documented on `topic`."""
    document, registry = contract()
    found = []
    for channel in document["channels"].values():
        if channel["address"] != topic:
            continue
        for reference in channel["messages"].values():
            name = unquote(reference["$ref"].removeprefix("#/components/messages/"))
            pointer = reference["$ref"].removeprefix("#")

            def validator(part: str) -> Draft7Validator:
                schema = {"$ref": f"{DOCUMENT}#{pointer}/{part}"}
                return Draft7Validator(schema, registry=registry, format_checker=FormatChecker())

            found.append((name, validator("payload"), validator("headers")))
    return found


def problems(topic: str, value: bytes | None, headers: dict[str, str]) -> list[str]:
    """What is wrong with one record, against every message the contract documents for its topic."""
    documented = validators(topic)
    if not documented:
        return [f"{topic} is not in schemas/asyncapi.yaml"]
    wrong = []
    for name, payload, header in documented:
        if name.endswith(":DeadLetter"):
            body = None  # a dead letter carries the record as it was, readable or not
        else:
            try:
                body = None if value is None else json.loads(value)
            except ValueError as exc:
                wrong.append(f"{name}: the payload is not JSON ({exc})")
                continue
            wrong += [f"{name}: payload {explain(e)}" for e in payload.iter_errors(body)]
        wrong += [f"{name}: headers {explain(e)}" for e in header.iter_errors(headers)]
    return wrong


def explain(error) -> str:
    """Where and why, from the closest of the alternatives when none of an anyOf matched."""
    closest = best_match(error.context) if error.context else error
    return f"{'/'.join(map(str, closest.absolute_path)) or '(top)'}: {closest.message[:300]}"


def headers_of(record) -> dict[str, str]:
    return {key: value.decode() for key, value in record.headers or ()}
