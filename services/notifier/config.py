from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from schemas.events import ProgrammeContact
from services.common.settings import KafkaSettings, ReliabilitySettings


class NotifierSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="NOTIFIER_", extra="ignore", populate_by_name=True, hide_input_in_errors=True)

    database_url: str = "sqlite:///var/notifier.db"
    smtp_host: str = "127.0.0.1"
    smtp_port: int = Field(default=8025, ge=1, le=65535)
    smtp_timeout_seconds: float = Field(default=10, gt=0)
    from_address: str = "Patient leader pairing <pairing@example.nhs.uk>"
    # Used when an outcome does not carry its programme's contact details (events from before they did).
    # The defaults are made up (an Ofcom drama number, an example address): set real ones in production.
    programme_team: str = Field(
        default="the patient leader programme team",
        min_length=1,
        description="The programme team's name as it reads in a sentence",
    )
    programme_contact_name: str | None = Field(default=None, description="The named person people can contact")
    programme_phone: str | None = Field(default="0113 496 0123", description="A UK phone number people can call")
    programme_email: str | None = Field(default="pairing@example.nhs.uk", description="The team's email address")
    programme_postal_address: str | None = Field(
        default="Patient Leader Programme, 1 Example Street, Leeds, LS1 1AA",
        description="Where letters and reply slips go, lines separated by commas",
    )
    # Working days each kind of task for a person takes; its deadline is the answer date less these.
    task_days_braille: int = Field(default=10, ge=0, le=60, description="Working days to produce and post braille")
    task_days_audio: int = Field(default=5, ge=0, le=60, description="Working days to record and send audio")
    task_days_phone: int = Field(default=2, ge=0, le=60, description="Working days to phone someone")
    task_days_interpreter: int = Field(
        default=5, ge=0, le=60, description="Working days to book an interpreter or other communication professional"
    )
    task_days_support: int = Field(
        default=5, ge=0, le=60, description="Working days to share a message with communication support"
    )
    task_days_contact: int = Field(default=2, ge=0, le=60, description="Working days to pass on any other message")
    output_dir: Path = Field(
        default=Path("var/notifier"),
        description="Where letters (letters/), text messages (sms/) and tasks for a person (for_a_person/) are written",
    )
    retention_days: int = Field(default=400, ge=1, le=3650, description="Days the record of each message is kept")
    file_retention_days: int = Field(
        default=90, ge=1, le=3650, description="Days text messages, letters and tasks stay in the output folders"
    )
    contact_wait_seconds: float = Field(
        default=30, ge=0, le=600, description="How long an outcome waits for contact details that are still on their way"
    )
    reminder_working_days: int = Field(
        default=3,
        ge=0,
        le=20,
        description="Someone who has not answered is reminded this many working days before their answer date",
    )
    not_yet_days: int = Field(
        default=14,
        ge=1,
        le=90,
        description='"Not yet" to "Did you meet?" becomes a task for the programme team this many days later, '
        "unless they then say they met",
    )
    partner_declined_contact_days: int = Field(
        default=14, ge=1, le=90, description="Someone whose partner said no hears from us again within this many days"
    )
    quiet_hours_start: dt.time = Field(
        default=dt.time(20), description="No text messages or phone calls from this time (Europe/London)"
    )
    quiet_hours_end: dt.time = Field(
        default=dt.time(9), description="Text messages and phone calls again from this time (Europe/London)"
    )
    scheduler_poll_seconds: float = Field(
        default=5, gt=0, le=300, description="How often the scheduler looks for messages that are due"
    )
    workers: int = Field(
        default=3,
        ge=1,
        le=32,
        description=(
            "How many connections to the email server (SMTP) are kept open: that many emails are sent at once. "
            "A batch of outcomes sends 32 messages at a time whatever this is; with GOV.UK Notify it is not used"
        ),
    )
    channel: Literal["smtp", "notify"] = Field(
        default="smtp",
        description="smtp: email by SMTP, text messages and letters as files; notify: all three by GOV.UK Notify",
    )
    demo_clock_file: Path | None = Field(
        default=None,
        description="Only for `make demo-journey`: a file holding how many seconds the clock runs ahead "
        "(services/common/demo_clock.py). `make run` never sets it",
    )
    notify_api_key: SecretStr | None = Field(
        default=None, validation_alias=AliasChoices("NOTIFY_API_KEY", "NOTIFIER_NOTIFY_API_KEY", "notify_api_key")
    )
    notify_base_url: str = "https://api.notifications.service.gov.uk"
    notify_email_template_id: str | None = None
    notify_sms_template_id: str | None = None
    notify_letter_template_id: str | None = None
    notify_timeout_seconds: float = Field(default=30, gt=0, le=120)
    notify_receipt_seconds: float = Field(
        default=60,
        gt=0,
        le=3600,
        description="How soon GOV.UK Notify is first asked whether a message arrived (then less often, at most hourly)",
    )
    notify_inbound_seconds: float = Field(
        default=60, gt=0, le=3600, description="How often GOV.UK Notify is asked for replies to text messages"
    )
    encryption_keys: str = Field(min_length=1, description="Fernet keys, comma separated; the first encrypts")
    event_keys: str = Field(
        min_length=1,
        description="Fernet keys shared with the registry (REGISTRY_EVENT_KEYS), comma separated: they open each "
        "leader's data key from leaders.keys.v1",
    )
    kafka: KafkaSettings = Field(default_factory=KafkaSettings)
    reliability: ReliabilitySettings = Field(default_factory=ReliabilitySettings)

    @model_validator(mode="after")
    def _notify_is_complete(self) -> NotifierSettings:
        if self.channel == "notify":
            missing = [
                name
                for name, value in (
                    ("NOTIFY_API_KEY", self.notify_api_key),
                    ("NOTIFIER_NOTIFY_EMAIL_TEMPLATE_ID", self.notify_email_template_id),
                    ("NOTIFIER_NOTIFY_SMS_TEMPLATE_ID", self.notify_sms_template_id),
                    ("NOTIFIER_NOTIFY_LETTER_TEMPLATE_ID", self.notify_letter_template_id),
                )
                if not value
            ]
            if missing:
                raise ValueError(f"NOTIFIER_CHANNEL=notify needs {', '.join(missing)}")
        return self

    @property
    def programme(self) -> ProgrammeContact:
        """The programme's contact details from these settings."""
        return ProgrammeContact(
            team=self.programme_team,
            person=self.programme_contact_name,
            phone=self.programme_phone,
            email=self.programme_email,
            postal_address=self.programme_postal_address,
        )

    @property
    def task_days(self) -> dict[str, int]:
        """Working days each kind of task takes (domain/tasks.py)."""
        kinds = ("braille", "audio", "phone", "interpreter", "support", "contact")
        return {kind: getattr(self, f"task_days_{kind}") for kind in kinds}

    @property
    def letters_dir(self) -> Path:
        """The print queue: PDF letters waiting to be printed and posted."""
        return self.output_dir / "letters"

    @property
    def sms_dir(self) -> Path:
        """Text messages, one file each: there is no SMS gateway here."""
        return self.output_dir / "sms"

    @property
    def tasks_dir(self) -> Path:
        """Messages a person must deliver (braille, audio, a phone call ...), with why."""
        return self.output_dir / "for_a_person"
