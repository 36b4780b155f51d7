"""Every Kafka topic the services use, in one place.

Services create these at start-up (see services/common/kafka.py) and deploy/
checks its topic settings against this list.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Topic:
    name: str
    key: str  # "leader_id": the person's pseudonymous event reference, never the registry's id (schemas/events.py)
    partitions: int = 3
    compacted: bool = False
    description: str = ""
    max_message_bytes: int | None = None  # above the broker's default of 1 MiB

    @property
    def config(self) -> dict[str, str]:
        config = {"cleanup.policy": "compact"} if self.compacted else {}
        if self.max_message_bytes:
            config["max.message.bytes"] = str(self.max_message_bytes)
        return config


# A round's whole result is one event: about 0.45 MB per 1,000 pairs, so a national round of
# 20,000 pairs needs room for 9 MB.
LARGEST_MESSAGE_BYTES = 16 * 1024 * 1024


LEADER_PROFILES = Topic(
    "leaders.profile.v1",
    key="leader_id",
    compacted=True,
    description=(
        "Coded, pseudonymous matching profile of each leader, keyed by their event reference; no names, contact "
        "details or free text."
    ),
)
LEADER_CONTACTS = Topic(
    "leaders.contact.v1",
    key="leader_id",
    compacted=True,
    description=(
        "Name and contact details with communication needs, sealed with each leader's own data key and keyed by "
        "their event reference; read only by the notifier."
    ),
)
LEADER_KEYS = Topic(
    "leaders.keys.v1",
    key="leader_id",
    compacted=True,
    description=(
        "Each leader's data key for their sealed contact records, wrapped with a key only the registry and "
        "the notifier hold; a tombstone when the person is erased, which makes their contact records unreadable."
    ),
)
ROUNDS = Topic("rounds.v1", key="round_id", description="Round lifecycle: requested, published, cancelled.")
MATCHES = Topic(
    "matches.v1",
    key="round_id",
    description="The matcher's results for a round, and its progress while solving.",
    max_message_bytes=LARGEST_MESSAGE_BYTES,
)
OUTCOMES = Topic(
    "outcomes.v1",
    key="leader_id",
    description=(
        "One published outcome per person, keyed by their event reference: paired (with partner and reasons) or "
        "unmatched (with reason)."
    ),
)
RESPONSES = Topic(
    "responses.v1",
    key="round_id",
    description=(
        "Leaders' answers to a proposed pair: accepted or declined; and replies to a text message "
        "read as yes or no, for the registry to record."
    ),
)
DELIVERIES = Topic(
    "deliveries.v1", key="leader_id", description="Notification delivery status, back to the registry, keyed by event reference."
)
DEAD_LETTERS = Topic(
    "deadletter.v1",
    key="original key",
    partitions=1,
    description="Events a consumer could not handle after bounded retries, with the error and original position.",
)

ALL_TOPICS: tuple[Topic, ...] = (
    LEADER_PROFILES,
    LEADER_CONTACTS,
    LEADER_KEYS,
    ROUNDS,
    MATCHES,
    OUTCOMES,
    RESPONSES,
    DELIVERIES,
    DEAD_LETTERS,
)
