"""What every route and page works with: the registry's settings, database, keys and broker.

app.py builds one at start-up; routes reach it through services.registry.web.deps.registry_of.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from faststream.kafka import KafkaBroker
from itsdangerous import URLSafeTimedSerializer

from services.common.crypto import Cipher
from services.common.demo_clock import ahead
from services.common.store import Store
from services.registry.config import RegistrySettings
from services.registry.handlers.publishing import Publishing
from services.registry.person_keys import PersonKeys

LONDON = ZoneInfo("Europe/London")


@dataclass
class Registry:
    settings: RegistrySettings
    store: Store
    cipher: Cipher
    broker: KafkaBroker
    signer: URLSafeTimedSerializer
    person_keys: PersonKeys

    def today(self) -> dt.date:
        # The date in England, as people read it: just after midnight in summer, UTC is still yesterday.
        # `make demo-journey` alone moves it on (services/common/demo_clock.py); otherwise it is today.
        return (dt.datetime.now(LONDON) + ahead(self.settings.demo_clock_file)).date()

    @property
    def publishing(self) -> Publishing:
        return Publishing(
            public_url=self.settings.public_url,
            signer=self.signer,
            cipher=self.cipher,
            response_days=self.settings.response_days,
            meeting_notice_days=self.settings.first_meeting_notice_days,
            meeting_minutes=self.settings.first_meeting_minutes,
            programme=self.settings.programme_defaults,
        )
