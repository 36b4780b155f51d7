"""Settings shared by every service; each service adds its own with an env prefix."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from pydantic import Field, ValidationInfo, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from schemas.topics import LARGEST_MESSAGE_BYTES


class KafkaSettings(BaseSettings):
    """How to reach Kafka. The defaults suit the embedded Tansu broker.

    On Apache Kafka set KAFKA_ENABLE_IDEMPOTENCE=true: Tansu does not support
    the idempotent producer, so it is off by default.
    """

    # hide_input_in_errors: an error about a setting never repeats its value (it may be a password).
    model_config = SettingsConfigDict(env_prefix="KAFKA_", extra="ignore", hide_input_in_errors=True)

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
    # A secured broker (README: Connecting to a secured Kafka); services/common/kafka_security.py
    # turns these into every client's options. The password is only ever read from a file.
    security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = "PLAINTEXT"
    ssl_ca_file: Path | None = Field(default=None, description="PEM file of the authority that signed the broker's certificate")
    ssl_cert_file: Path | None = Field(default=None, description="PEM file of this client's certificate, if asked for one")
    # validate_default: these are checked against the protocol even when left unset.
    ssl_key_file: Path | None = Field(default=None, validate_default=True, description="PEM file of the certificate's key")
    sasl_mechanism: Literal["SCRAM-SHA-512", "SCRAM-SHA-256", "PLAIN"] = Field(default="SCRAM-SHA-512", validate_default=True)
    sasl_username: str | None = Field(default=None, validate_default=True)
    sasl_password_file: Path | None = Field(default=None, validate_default=True, description="File holding the password")
    sasl_password: str | None = Field(default=None, exclude=True, repr=False)

    @field_validator("ssl_ca_file", "ssl_cert_file", "ssl_key_file")
    @classmethod
    def _tls_files(cls, path: Path | None, info: ValidationInfo) -> Path | None:
        return _tls_file(path, info)

    @field_validator("ssl_key_file")
    @classmethod
    def _cert_and_key_together(cls, key: Path | None, info: ValidationInfo) -> Path | None:
        if (key is None) != (info.data.get("ssl_cert_file") is None):
            raise ValueError(
                "and KAFKA_SSL_CERT_FILE go together: set both (the client certificate and its private key) or neither"
            )
        return key

    @field_validator("sasl_mechanism")
    @classmethod
    def _plain_only_over_tls(cls, mechanism: str, info: ValidationInfo) -> str:
        protocol = info.data.get("security_protocol")
        if mechanism == "PLAIN" and protocol == "SASL_PLAINTEXT":
            raise ValueError(
                "PLAIN sends the password as it is, so it needs KAFKA_SECURITY_PROTOCOL=SASL_SSL; "
                "use SCRAM-SHA-512 or SCRAM-SHA-256, or turn on TLS"
            )
        return mechanism

    @field_validator("sasl_username")
    @classmethod
    def _username_with_sasl(cls, username: str | None, info: ValidationInfo) -> str | None:
        return _with_sasl(username.strip() if username else None, info, "the Kafka user this service signs in as")

    @field_validator("sasl_password_file")
    @classmethod
    def _password_file(cls, path: Path | None, info: ValidationInfo) -> Path | None:
        path = _with_sasl(path, info, "the path of a file holding the Kafka user's password")
        if path is not None and not read_password(path):
            raise ValueError(f"names {path}, which cannot be read or is empty: put the Kafka user's password in it")
        return path

    @field_validator("sasl_password", mode="before")
    @classmethod
    def _no_password_in_environment(cls, value: object) -> None:
        if value is not None:
            raise ValueError(
                "must not be set: a password in the environment can leak into process listings and logs. "
                "Put it in a file readable only by this service and set KAFKA_SASL_PASSWORD_FILE to its path"
            )
        return None

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


TLS_PROTOCOLS = ("SSL", "SASL_SSL")
SASL_PROTOCOLS = ("SASL_PLAINTEXT", "SASL_SSL")


def _tls_file(path: Path | None, info: ValidationInfo) -> Path | None:
    if path is None:
        return None
    protocol = info.data.get("security_protocol")
    if protocol not in TLS_PROTOCOLS:
        raise ValueError(f"is set, but KAFKA_SECURITY_PROTOCOL is {protocol}: set it to SSL or SASL_SSL to use TLS")
    if not os.access(path, os.R_OK) or not path.is_file():
        raise ValueError(f"names {path}, which cannot be read: check the path and that this service may read it")
    return path


def _with_sasl(value, info: ValidationInfo, what: str):
    protocol = info.data.get("security_protocol")
    if protocol in SASL_PROTOCOLS and value is None:
        raise ValueError(f"is required when KAFKA_SECURITY_PROTOCOL is {protocol}: set it to {what}")
    if protocol not in SASL_PROTOCOLS and value is not None:
        raise ValueError(f"is set, but KAFKA_SECURITY_PROTOCOL is {protocol}: set it to SASL_SSL to sign in")
    return value


def read_password(path: Path) -> str:
    """The password in the file, without the line end an editor or `echo` adds; empty if unreadable."""
    try:
        return path.read_text().rstrip("\r\n")
    except (OSError, UnicodeDecodeError):
        return ""


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
