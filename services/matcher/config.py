from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from services.common.settings import KafkaSettings, ReliabilitySettings


class MatcherSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="MATCHER_", extra="ignore")

    database_url: str = "sqlite:///var/matcher.db"
    encryption_keys: str = Field(min_length=1, description="Fernet keys, comma separated; the first encrypts")
    freshness_wait_seconds: float = Field(
        default=60, gt=0, description="How long a round waits when none of the profiles it still needs arrive"
    )
    progress_seconds: float = Field(default=1.0, gt=0, description="How often a long solve reports how it is going")
    # Long solves must not push the round consumer out of its group; but on Tansu a killed
    # matcher holds up the group's next rebalance this long, so not longer than needed.
    max_poll_interval_ms: int = Field(default=600_000, ge=10_000)
    retention_days: int = Field(
        default=400,
        ge=1,
        le=3650,
        description="Days the matcher keeps its record of events published and handled: as long as the broker keeps events",
    )
    kafka: KafkaSettings = Field(default_factory=KafkaSettings)
    reliability: ReliabilitySettings = Field(default_factory=ReliabilitySettings)
