from __future__ import annotations

from pydantic import Field, SecretStr
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
    kafka: KafkaSettings = Field(default_factory=KafkaSettings)
    reliability: ReliabilitySettings = Field(default_factory=ReliabilitySettings)
    # The first admin of the web pages: created (or given this password again) when someone first signs in.
    admin_email: str | None = Field(default=None, max_length=320, description="The first admin's email address")
    admin_password: SecretStr | None = Field(default=None, min_length=12, description="The first admin's password (12 characters or more)")
    admin_name: str = Field(default="Programme admin", max_length=200, description="The first admin's name")
