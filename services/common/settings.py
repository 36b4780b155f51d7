"""Settings shared by every service; each service adds its own with an env prefix."""

from __future__ import annotations

from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from schemas.topics import LARGEST_MESSAGE_BYTES


class KafkaSettings(BaseSettings):
    """How to reach Kafka. The defaults suit the embedded Tansu broker.

    On Apache Kafka set KAFKA_ENABLE_IDEMPOTENCE=true: Tansu does not support
    the idempotent producer, so it is off by default.
    """

    model_config = SettingsConfigDict(env_prefix="KAFKA_", extra="ignore")

    bootstrap_servers: str = Field(default="127.0.0.1:9092", min_length=3)
    acks: Literal["all", "1", "0"] = "all"
    enable_idempotence: bool = False
    replication_factor: int = Field(default=1, ge=1)
    client_prefix: str = Field(
        default="pairing", min_length=1, max_length=100, description="Starts every client id and consumer group name"
    )
    # How long a silent consumer keeps its partitions. Shorter hands work over sooner after a
    # crash, and joins a group faster on Tansu, which waits half of it for members to join.
    session_timeout_ms: int = Field(default=6000, ge=1000, le=300_000)
    heartbeat_interval_ms: int = Field(default=1000, ge=100, le=60_000)
    # Also how long a rebalance waits for members to rejoin: Tansu waits this long for a
    # member that was killed, so it is kept short; handlers here take well under it.
    max_poll_interval_ms: int = Field(default=60_000, ge=5_000, le=3_600_000)
    # How long the broker keeps events that name people (rounds, results, outcomes, answers,
    # delivery reports) and dead letters; set on each topic when it is created (README: Retention).
    retention_days: int = Field(default=400, ge=1, le=3650, description="Days events that name people are kept")
    dead_letter_retention_days: int = Field(default=30, ge=1, le=365, description="Days dead letters are kept")

    @property
    def consumer_options(self) -> dict:
        return {
            "session_timeout_ms": self.session_timeout_ms,
            "heartbeat_interval_ms": self.heartbeat_interval_ms,
            "max_poll_interval_ms": self.max_poll_interval_ms,
        }

    @property
    def producer_options(self) -> dict:
        acks: int | str = self.acks if self.acks == "all" else int(self.acks)
        # A large round's result is one event of several megabytes (schemas/topics.py).
        return {"acks": acks, "enable_idempotence": self.enable_idempotence, "max_request_size": LARGEST_MESSAGE_BYTES}


class ReliabilitySettings(BaseSettings):
    """Bounded retries before an event goes to the dead-letter topic."""

    model_config = SettingsConfigDict(env_prefix="CONSUMER_", extra="ignore")

    max_attempts: int = Field(default=5, ge=1, le=100)
    first_backoff_seconds: float = Field(default=0.2, gt=0, le=60)
    max_backoff_seconds: float = Field(default=5.0, gt=0, le=600)


class OpsSettings(BaseSettings):
    """Where a matcher or notifier answers /health, /live and /metrics (the registry uses its own port)."""

    model_config = SettingsConfigDict(env_prefix="OPS_", extra="ignore")

    host: str = "127.0.0.1"
    port: int = Field(default=9100, ge=1, le=65535)
