"""Plain-English reasons for every pair and every unmatched person."""

from __future__ import annotations

import re

import pytest
from matcher_builders import cohort, leader, prof

from services.matcher.domain import solve
from services.matcher.domain.generate import generate_cohort

pytestmark = pytest.mark.unit


def on(*days: str) -> list[dict[str, str]]:
    return [{"day": d, "start": "10:00", "end": "12:30"} for d in days]


def reason_of(result, leader_id: str) -> tuple[str, str]:
    (u,) = [u for u in result.unmatched if u.id == leader_id]
    return u.reason, u.rule


def test_pair_reasons_name_topics_times_modes_and_distance():
    result = solve(cohort(leader("pl-1", experience="new"), prof("cl-1", experience="experienced", organisation="leeds-trust")))
    (pair,) = result.pairs
    assert pair.reasons == [
        "You both care about cardiac and discharge.",
        "You are both free on Tuesday 10:00 to 12:30.",
        "You can meet by video or in person (about 5 miles apart).",
        "You can both attend every required session.",
        "One of you is new to this kind of work and the other has done it before.",
    ]
    assert pair.meeting_modes == ["in_person", "video"]
    assert [(w.day, str(w.start), str(w.end)) for w in pair.shared_windows] == [("tue", "10:00:00", "12:30:00")]


def test_pair_reasons_mention_different_organisations():
    (pair,) = solve(cohort(leader("pl-1", organisation="carers-trust"), prof("cl-1", organisation="leeds-trust"))).pairs
    assert "You come from different organisations, so you each bring a fresh view." in pair.reasons


def test_locked_pair_without_common_time_or_mode_says_the_team_will_help():
    c = cohort(
        leader("pl-1", availability=on("mon"), meeting_modes=["phone"]),
        prof("cl-1", meeting_modes=["video"]),
        locked_pairs=[["pl-1", "cl-1"]],
    )
    (pair,) = solve(c).pairs
    assert pair.reasons[0] == "This pair was agreed in advance."
    assert "You do not share a free time each week yet; the programme team will help you find one." in pair.reasons
    assert "You do not yet have a way of meeting that suits you both; the programme team will help." in pair.reasons


OWN_REASONS = {
    "unavailable date": (
        {"unavailable_dates": ["2027-01-12"]},
        {},
        "You cannot attend every required session: 12 January 2027 is on a date you told us you cannot do.",
    ),
    "school holidays": (
        {"term_time_only": True},
        {"sessions": [{"date": "2027-02-16", "start": "10:00", "end": "15:00"}]},
        "You cannot attend every required session: 16 February 2027 is in the school holidays, "
        "and you take part in term time only.",
    ),
    "notice": (
        {"min_notice_days": 60},
        {},
        "You cannot attend every required session: 12 January 2027 is only 42 days after the round opened, "
        "and you need 60 days' notice.",
    ),
    "interpreter": (
        {"access_needs": ["bsl_interpreter"]},
        {"launch_date": "2026-12-20"},
        "You cannot attend every required session: a British Sign Language interpreter has to be booked at least 4 weeks ahead, "
        "and the first session, on 12 January 2027, is only 23 days after the round opened.",
    ),
}


@pytest.mark.parametrize("fields, round, text", OWN_REASONS.values(), ids=OWN_REASONS.keys())
def test_someone_who_cannot_attend_a_session_is_told_which_and_why(fields, round, text):
    result = solve(cohort(leader("pl-1", **fields), prof("cl-1"), round=round))
    assert reason_of(result, "pl-1") == (text, "sessions")


def test_professional_without_release_is_told_so():
    result = solve(cohort(leader("pl-1"), prof("cl-1", release_confirmed=False)))
    assert reason_of(result, "cl-1") == (
        "Your manager has not yet confirmed that you can have time for this programme, so we could not pair you this round.",
        "release",
    )
    assert reason_of(result, "pl-1")[1] == "release"


def test_professional_with_no_places_is_told_so():
    result = solve(cohort(leader("pl-1"), prof("cl-1", capacity=0)))
    assert reason_of(result, "cl-1") == ("You told us you cannot take on a partner this round.", "capacity")


def test_nobody_free_at_the_same_times():
    result = solve(cohort(leader("pl-1", availability=on("mon")), prof("cl-1"), prof("cl-2", availability=on("fri"))))
    assert reason_of(result, "pl-1") == (
        "None of the professionals who could meet you are free at the same times as you for at least 1 hour each week.",
        "availability",
    )


def test_area_is_named_when_the_round_keeps_to_one_area():
    result = solve(cohort(leader("pl-1", availability=on("mon")), prof("cl-1"), round={"allow_cross_system_remote": False}))
    assert reason_of(result, "pl-1")[0].startswith(
        "None of the professionals in your local health and care area who could meet you"
    )


def test_no_way_of_meeting():
    result = solve(
        cohort(leader("pl-1", meeting_modes=["in_person"], max_travel_km=2), prof("cl-1", meeting_modes=["in_person"]))
    )
    assert reason_of(result, "pl-1") == (
        "Most of the professionals cannot meet in a way that suits you: you said you can meet in person, "
        "travelling up to about 1 mile.",
        "meeting_mode",
    )


def test_in_person_without_a_location_says_what_is_missing():
    result = solve(cohort(leader("pl-1", meeting_modes=["in_person"], location=None), prof("cl-1")))
    reason, rule = reason_of(result, "pl-1")
    assert rule == "meeting_mode" and "we do not know roughly where you are" in reason


def test_other_area_and_in_person_only():
    result = solve(cohort(leader("pl-1", meeting_modes=["in_person"]), prof("cl-1", system="QHM")))
    assert reason_of(result, "pl-1") == (
        "You can only meet in person, and many professionals are in a different local health and care area.",
        "system",
    )


def test_do_not_pair_is_explained_without_saying_who_asked():
    result = solve(cohort(leader("pl-1"), prof("cl-1", do_not_pair_with=["pl-1"])))
    reason, rule = reason_of(result, "pl-1")
    assert rule == "do_not_pair" and "one of you asked not to be paired" in reason


def test_others_who_cannot_attend_sessions():
    result = solve(cohort(leader("pl-1"), prof("cl-1", unavailable_dates=["2027-01-12"])))
    assert reason_of(result, "pl-1") == ("Many of the professionals cannot attend every required session.", "sessions")


def test_nobody_on_the_other_side():
    result = solve(cohort(leader("pl-1")))
    assert reason_of(result, "pl-1") == ("There were no professionals in this round.", "no_candidates")


def test_more_people_than_places():
    result = solve(cohort(leader("pl-1"), leader("pl-2"), prof("cl-1")))
    assert reason_of(result, "pl-2") == (
        "There were more patient and carer leaders than places with professionals, so not everyone could be paired this time.",
        "outnumbered",
    )


def test_more_places_than_people_is_explained_to_the_professional():
    result = solve(cohort(leader("pl-1"), prof("cl-1"), prof("cl-2")))
    (unpaired,) = result.unmatched
    assert unpaired.rule == "outnumbered"
    assert unpaired.reason.startswith("There were more places with professionals than patient and carer leaders")


def test_every_suitable_partner_taken():
    # Three people, three places, yet only two pairs: pl-1 and pl-2 can meet only
    # cl-1, and pl-3 can take just one of cl-2 and cl-3.
    result = solve(
        cohort(
            leader("pl-1", availability=on("mon")),
            leader("pl-2", availability=on("mon")),
            leader("pl-3", availability=on("mon", "tue", "thu")),
            prof("cl-1", availability=on("mon")),
            prof("cl-2", availability=on("tue")),
            prof("cl-3", availability=on("thu")),
        )
    )
    assert len(result.pairs) == 2
    by_rule = {u.rule for u in result.unmatched}
    assert by_rule == {"capacity"}
    texts = {u.reason for u in result.unmatched}
    assert texts == {
        "Every suitable professional already has as many partners as they can take.",
        "Every suitable patient or carer leader has already been paired with someone else.",
    }


def test_professional_with_spare_places_and_one_partner_is_not_unmatched():
    result = solve(cohort(leader("pl-1"), prof("cl-1", capacity=3)))
    assert len(result.pairs) == 1 and result.unmatched == []


def test_everyone_hears_back_in_plain_english():
    c = generate_cohort(150, 100, seed=4, capacity=2)
    result = solve(c)
    paired = {p.lived_experience_id for p in result.pairs} | {p.professional_id for p in result.pairs}
    unmatched = [u.id for u in result.unmatched]
    assert len(unmatched) == len(set(unmatched))
    assert paired | set(unmatched) == {p.id for p in c.leaders} and not paired & set(unmatched)
    for text in [u.reason for u in result.unmatched] + [r for p in result.pairs for r in p.reasons]:
        assert text[0].isupper() and text.endswith(".")
        assert not re.search(r"\b(ICS|ICB|integrated care|BSL|None\b(?! of))", text), text


def test_a_pair_with_someone_left_out_before_says_it_was_paired_first_without_saying_who():
    result = solve(
        cohort(
            leader("pl-1"),
            leader("pl-2", topics=["stroke"], left_out_before=True),
            prof("cl-1"),
        )
    )
    (pair,) = result.pairs
    assert pair.lived_experience_id == "pl-2"
    assert pair.reasons[0] == "We paired you first because one of you missed out on a partner in an earlier round."
    (both,) = solve(cohort(leader("pl-1", left_out_before=True), prof("cl-1", left_out_before=True))).pairs
    assert both.reasons[0] == "We paired you first because both of you missed out on a partner in an earlier round."
    (neither,) = solve(cohort(leader("pl-1"), prof("cl-1"))).pairs
    assert not any("first" in r for r in neither.reasons)
