"""Representative people and outcomes for the notifier's tests (every name is made up)."""

from __future__ import annotations

import datetime as dt

from schemas.cohort import Cohort, Window
from schemas.events import LeaderContact, MeetingSlot, Outcome, Partner, ProgrammeContact

# The notifier's own setting, for outcomes that do not carry the programme's contact details.
PROGRAMME_CONTACT = ProgrammeContact(
    team="the patient leader programme team",
    person="Priya Shah",
    phone="0113 496 0123",
    email="pairing@example.nhs.uk",
    postal_address="Patient Leader Programme, 1 Example Street, Leeds, LS1 1AA",
)
PUBLISHED_ON = dt.date(2026, 12, 15)  # a Tuesday
RESPOND_BY = dt.date(2027, 1, 5)

ME = LeaderContact(leader_id="pl-1", version=1, name="Amira Ahmed", role="patient_leader", email="amira@example.org")
PARTNER = LeaderContact(
    leader_id="cl-1", version=1, name="Ben Bell", pronouns="he/him", role="clinical_leader", organisation="Newcastle Hospitals"
)
SECOND = LeaderContact(leader_id="cr-2", version=1, name="Chloe Carter", role="carer_leader")
# Reasons worded as the matcher words them (services/matcher/domain/explain.py).
REASONS = [
    "You both care about cardiac care and discharge from hospital.",
    "You are both free on Tuesday 10:00 to 12:30.",
    "You can meet by video call or in person (about 7 miles apart).",
    "You come from different organisations, so you each bring a fresh view.",
]


# The registry plans each pair's first meeting (services/registry/domain/meetings.py).
FIRST_MEETING = MeetingSlot(date=dt.date(2027, 1, 12), start=dt.time(10), end=dt.time(11))


def partner(
    partner_id: str = "cl-1",
    windows: list[Window] | None = None,
    meeting: MeetingSlot | None = FIRST_MEETING,
    arrangements: list[str] | None = None,
) -> Partner:
    return Partner(
        partner_id=partner_id,
        reasons=REASONS,
        shared_windows=windows if windows is not None else [Window(day="tue", start=dt.time(10), end=dt.time(12, 30))],
        meeting_modes=["video", "in_person"],
        first_meeting=meeting,
        access_arrangements=arrangements or [],
        # Short links, as the registry makes them (at most 45 characters), so a text message can hold them.
        accept_url=f"https://pl.example.uk/r/{partner_id.replace('-', '')}?answer=accept",
        decline_url=f"https://pl.example.uk/r/{partner_id.replace('-', '')}?answer=decline",
        reference=f"K7P-{partner_id.upper().replace('-', '')}",
    )


PAIRED = Outcome(round_id="r1", leader_id="pl-1", outcome="paired", partners=[partner()], respond_by=RESPOND_BY)
TWO_PARTNERS = Outcome(
    round_id="r1",
    leader_id="cl-1",
    outcome="paired",
    partners=[
        partner("pl-1"),
        partner("cr-2", meeting=FIRST_MEETING.model_copy(update={"start": dt.time(11), "end": dt.time(12)})),
    ],
    respond_by=RESPOND_BY,
)
UNMATCHED = Outcome(
    round_id="r1",
    leader_id="pl-1",
    outcome="unmatched",
    unmatched_reason=(
        "None of the clinical leaders in your area who could meet you are free at the same times as you "
        "for at least 1 hour each week."
    ),
)
CONTACTS = {"cl-1": PARTNER, "pl-1": ME, "cr-2": SECOND}


def one_pair_cohort(**round_change) -> Cohort:
    """A patient leader and a clinical leader in one round, for the matcher to give its reasons
    about; `round_change` alters the round."""
    person = {
        "id": "pl-1",
        "role": "patient_leader",
        "system": "QWO",
        "meeting_modes": ["video"],
        "availability": [{"day": "tue", "start": "10:00", "end": "12:30"}],
        "unavailable_dates": ["2027-01-12"],
    }
    prof = person | {"id": "cl-1", "role": "clinical_leader", "release_confirmed": True, "unavailable_dates": []}
    spec = {
        "id": "r1",
        "launch_date": "2026-12-01",
        "sessions": [{"date": "2027-01-12", "start": "10:00", "end": "15:00"}],
        "min_shared_hours_per_week": 1.0,
    } | round_change
    return Cohort.model_validate({"round": spec, "leaders": [person, prof]})


# Each (rule, own) the matcher can give a reason for, and the kind the notifier must read it as.
MATCHER_RULES = [
    ("release", True, "release"),
    ("capacity", True, "capacity"),
    ("sessions", True, "sessions"),
    ("no_candidates", False, "no_candidates"),
    ("release", False, "others_release"),
    ("capacity", False, "others_capacity"),
    ("sessions", False, "others_sessions"),
    ("system", False, "system"),
    ("do_not_pair", False, "do_not_pair"),
    ("meeting_mode", False, "meeting_mode"),
    ("availability", False, "availability"),
    ("capacity_taken", False, "capacity_taken"),
    ("outnumbered", False, "outnumbered"),
]
