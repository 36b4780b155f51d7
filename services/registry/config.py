from __future__ import annotations

import hashlib
import hmac
from pathlib import Path

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from schemas.events import ProgrammeContact
from services.common.settings import KafkaSettings, ReliabilitySettings
from services.registry.domain.leaders import _check_email
from services.registry.domain.meetings import parse_closures
from services.registry.domain.programmes import DEFAULT_CLOSURE_TEXT, DEFAULT_TEAM, ProgrammeDefaults, check_uk_phone, contact_of


class RegistrySettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="REGISTRY_", extra="ignore")

    database_url: str = "sqlite:///var/registry.db"
    http_host: str = "127.0.0.1"
    http_port: int = Field(default=8000, ge=1, le=65535)
    public_url: str = Field(default="http://127.0.0.1:8000", description="Where leaders' links point")
    encryption_keys: str = Field(min_length=1, description="Fernet keys, comma separated; the first encrypts")
    event_keys: str = Field(
        min_length=1,
        description="Fernet keys shared with the notifier (NOTIFIER_EVENT_KEYS), comma separated: they wrap each "
        "leader's data key on leaders.keys.v1; the first encrypts",
    )
    token_secret: str = Field(min_length=16, description="Signs the accept and decline links in messages")
    audit_key: SecretStr | None = Field(
        default=None,
        min_length=16,
        description="Keys the digest that stands for an erased person's id in the audit log (an admin who knows "
        "the id can still find what was done); made from the token secret when not set",
    )
    retention_days: int = Field(
        default=400, ge=1, le=3650, description="Days delivery reports and answers (with reasons for a no) are kept"
    )
    # Six years: the time in which a complaint or a claim about who read someone's details may be brought.
    audit_retention_days: int = Field(
        default=6 * 365,
        ge=30,
        le=3650,
        description="Days audit log entries (who read or changed what, and when) are kept",
    )
    response_days: int = Field(default=14, ge=1, le=90, description="Days people have to accept or decline")
    demo_clock_file: Path | None = Field(
        default=None,
        description="Only for `make demo-journey`: a file holding how many seconds today's date runs ahead "
        "(services/common/demo_clock.py). `make run` never sets it",
    )
    first_meeting_notice_days: int = Field(
        default=14, ge=0, le=180, description="The suggested first meeting is at least this many days after publishing"
    )
    first_meeting_minutes: int = Field(default=60, ge=15, le=480, description="How long the suggested first meeting is")
    # The programme contact for a round launched for everyone or for an area (a programme's own
    # details are used for its cohorts' rounds): every message gives it.
    programme_team: str = Field(
        default=DEFAULT_TEAM, min_length=1, max_length=200, description="The team's name as it reads in a sentence"
    )
    programme_contact_name: str | None = Field(default=None, max_length=200, description="The named person people can contact")
    programme_phone: str | None = Field(default=None, max_length=40, description="A UK phone number people can call")
    programme_email: str | None = Field(default="pairing@example.nhs.uk", max_length=320)
    programme_postal_address: str | None = Field(default=None, max_length=500, description="Where letters and reply slips go")
    closure_periods: str = Field(
        default=DEFAULT_CLOSURE_TEXT,
        description="When the programme is closed, comma separated: 12-24..01-01 (every year) or 2027-04-01..2027-04-05 (once)",
    )
    watch: str = Field(
        default="",
        description="Where the queue monitor finds the other services: name=address pairs, comma separated, "
        "such as matcher=http://127.0.0.1:9101,notifier=http://127.0.0.1:9102",
    )
    kafka: KafkaSettings = Field(default_factory=KafkaSettings)
    reliability: ReliabilitySettings = Field(default_factory=ReliabilitySettings)
    # The first admin of the web pages: created (or given this password again) when someone first signs in.
    admin_email: str | None = Field(default=None, max_length=320, description="The first admin's email address")
    admin_password: SecretStr | None = Field(
        default=None, min_length=12, description="The first admin's password (12 characters or more)"
    )
    admin_name: str = Field(default="Programme admin", max_length=200, description="The first admin's name")
    admin_api_token: SecretStr | None = Field(
        default=None,
        min_length=40,
        max_length=200,
        description="An API token for the first admin, so programs on the machine need no password (`make run` makes one)",
    )
    session_idle_minutes: int = Field(default=30, ge=1, le=480, description="A page session unused for this long ends")
    require_second_factor: bool = Field(
        default=True, description="Managers and admins sign in to the pages with a code from an authenticator app too"
    )
    max_body_bytes: int = Field(
        default=2 * 1024 * 1024, ge=1024, description="The largest request body (JSON or a form) taken, in bytes"
    )
    max_upload_bytes: int = Field(default=5 * 1024 * 1024, ge=1024, description="The largest spreadsheet upload taken, in bytes")

    _phone_is_uk = field_validator("programme_phone")(check_uk_phone)
    _email_looks_right = field_validator("programme_email")(_check_email)

    @field_validator("programme_contact_name", "programme_phone", "programme_email", "programme_postal_address", mode="before")
    @classmethod
    def _blank_is_none(cls, value: str | None) -> str | None:
        return value.strip() or None if isinstance(value, str) else value

    @field_validator("closure_periods")
    @classmethod
    def _closures_read(cls, value: str) -> str:
        parse_closures(value)
        return value

    @property
    def programme_contact(self) -> ProgrammeContact:
        """The default programme's contact: for rounds that belong to no programme."""
        return contact_of(
            self.programme_team,
            self.programme_contact_name,
            self.programme_phone,
            self.programme_email,
            self.programme_postal_address.replace("\\n", "\n") if self.programme_postal_address else None,
        )

    @property
    def audit_digest_key(self) -> bytes:
        """The key of erased people's digests in the audit log: its own, or one made from the token secret."""
        if self.audit_key is not None:
            return self.audit_key.get_secret_value().encode()
        return hmac.new(self.token_secret.encode(), b"pairing audit log: erased people", hashlib.sha256).digest()

    @property
    def programme_defaults(self) -> ProgrammeDefaults:
        return ProgrammeDefaults(self.programme_contact, self.closure_periods)

    @field_validator("watch")
    @classmethod
    def _watch_pairs(cls, value: str) -> str:
        for item in filter(None, (part.strip() for part in value.split(","))):
            name, _, url = item.partition("=")
            if not name.strip() or not url.strip().startswith(("http://", "https://")):
                raise ValueError(
                    f"{item!r} should be a name, an equals sign and an address, such as matcher=http://127.0.0.1:9101"
                )
        return value

    @property
    def watched(self) -> dict[str, str]:
        """The other services the queue monitor asks, by name."""
        pairs = (part.strip().partition("=") for part in self.watch.split(",") if part.strip())
        return {name.strip(): url.strip().rstrip("/") for name, _, url in pairs}
