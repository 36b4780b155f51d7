from __future__ import annotations

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from services.common.settings import KafkaSettings, ReliabilitySettings


class RegistrySettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="REGISTRY_", extra="ignore")

    database_url: str = "sqlite:///var/registry.db"
    http_host: str = "127.0.0.1"
    http_port: int = Field(default=8000, ge=1, le=65535)
    public_url: str = Field(default="http://127.0.0.1:8000", description="Where leaders' links point")
    encryption_keys: str = Field(min_length=1, description="Fernet keys, comma separated; the first encrypts")
    token_secret: str = Field(min_length=16, description="Signs the accept and decline links in messages")
    response_days: int = Field(default=14, ge=1, le=90, description="Days people have to accept or decline")
    first_meeting_notice_days: int = Field(
        default=14, ge=0, le=180, description="The suggested first meeting is at least this many days after publishing"
    )
    first_meeting_minutes: int = Field(default=60, ge=15, le=480, description="How long the suggested first meeting is")
    watch: str = Field(
        default="",
        description="Where the queue monitor finds the other services: name=address pairs, comma separated, "
        "such as matcher=http://127.0.0.1:9101,notifier=http://127.0.0.1:9102",
    )
    kafka: KafkaSettings = Field(default_factory=KafkaSettings)
    reliability: ReliabilitySettings = Field(default_factory=ReliabilitySettings)
    # The first admin of the web pages: created (or given this password again) when someone first signs in.
    admin_email: str | None = Field(default=None, max_length=320, description="The first admin's email address")
    admin_password: SecretStr | None = Field(default=None, min_length=12, description="The first admin's password (12 characters or more)")
    admin_name: str = Field(default="Programme admin", max_length=200, description="The first admin's name")

    @field_validator("watch")
    @classmethod
    def _watch_pairs(cls, value: str) -> str:
        for item in filter(None, (part.strip() for part in value.split(","))):
            name, _, url = item.partition("=")
            if not name.strip() or not url.strip().startswith(("http://", "https://")):
                raise ValueError(f"{item!r} should be a name, an equals sign and an address, such as matcher=http://127.0.0.1:9101")
        return value

    @property
    def watched(self) -> dict[str, str]:
        """The other services the queue monitor asks, by name."""
        pairs = (part.strip().partition("=") for part in self.watch.split(",") if part.strip())
        return {name.strip(): url.strip().rstrip("/") for name, _, url in pairs}
