"""UnitOfWork.publish_body: an event already dumped goes into the outbox exactly as `publish` writes the event."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any, cast

import pytest

from schemas.events import RoundStatusChanged, StatusChange
from schemas.topics import ROUNDS
from services.common.crypto import Cipher, new_key
from services.common.store import Store, UnitOfWork

pytestmark = pytest.mark.unit


def outbox_of(cipher: Cipher | None, publish: Any) -> tuple[list[dict], list[tuple[str, bytes, bytes]]]:
    uow = UnitOfWork(cast(Store, SimpleNamespace(cipher=cipher)))
    publish(uow)
    return uow._outbox_rows, uow._sealed


def test_a_dumped_event_is_written_as_publish_writes_the_event():
    event = RoundStatusChanged(
        producer="registry", data=StatusChange(round_id="r-1", from_status="draft", to_status="open"), correlation_id="r-1"
    )
    body = event.model_dump(mode="json", by_alias=True)
    by_event, _ = outbox_of(None, lambda uow: uow.publish(ROUNDS, "r-1", event))
    by_body, _ = outbox_of(None, lambda uow: uow.publish_body(ROUNDS, "r-1", body))
    assert [{**row, "created_at": None} for row in by_body] == [{**row, "created_at": None} for row in by_event]
    assert by_body[0]["value"] == event.model_dump_json(by_alias=True).encode()

    # Sealed with the store's cipher, as any event is, with its plain text kept for the relay.
    cipher = Cipher(new_key())
    sealed, kept = outbox_of(cipher, lambda uow: uow.publish_body(ROUNDS, "r-1", body))
    assert cipher.open_bytes(sealed[0]["value"]) == by_event[0]["value"] == kept[0][2]
    assert kept[0][:2] == (str(event.event_id), sealed[0]["value"])
