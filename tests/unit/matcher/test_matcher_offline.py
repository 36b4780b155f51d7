"""The offline command's file handling: clear errors that name the leader and the field."""

from __future__ import annotations

import gc
import json

import pytest
from matcher_builders import leader, prof

from schemas.cohort import CohortResult
from services.cli import main
from services.matcher.offline import SCHEMA_PATH, CohortFileError, json_schema_text, load_cohort, run_match, write_json_schema

pytestmark = pytest.mark.unit

ROUND = {"id": "r-1", "launch_date": "2026-12-01", "sessions": [{"date": "2027-01-12", "start": "10:00", "end": "15:00"}]}


def write(tmp_path, data) -> str:
    path = tmp_path / "cohort.json"
    path.write_text(data if isinstance(data, str) else json.dumps(data))
    return str(path)


def problems(tmp_path, data) -> list[str]:
    with pytest.raises(CohortFileError) as caught:
        load_cohort(write(tmp_path, data))
    return caught.value.problems


def test_a_valid_file_loads(tmp_path):
    cohort = load_cohort(write(tmp_path, {"round": ROUND, "leaders": [leader("pl-0001"), prof("cl-0001")]}))
    assert [p.id for p in cohort.leaders] == ["pl-0001", "cl-0001"]


def test_error_names_the_leader_id_and_the_field(tmp_path):
    leaders = [leader("pl-0001"), leader("pl-0002"), leader("pl-0003"), leader("pl-0004", min_notice_days=-1)]
    assert problems(tmp_path, {"round": ROUND, "leaders": leaders}) == [
        "leaders[3] (id pl-0004): field 'min_notice_days': must be a whole number of days, 0 or more"
    ]


def test_unknown_fields_are_refused_not_dropped(tmp_path):
    found = problems(tmp_path, {"round": ROUND | {"sesions": []}, "leaders": [leader("pl-0001", max_travel=10)]})
    assert found == [
        "round: field 'sesions': is not a field we know; check the spelling",
        "leaders[0] (id pl-0001): field 'max_travel': is not a field we know; check the spelling",
    ]


def test_nested_fields_are_named_with_their_position(tmp_path):
    bad = leader(
        "pl-0001",
        availability=[{"day": "tue", "start": "10:00", "end": "12:00"}, {"day": "tue", "start": "25:00", "end": "26:00"}],
    )
    assert problems(tmp_path, {"round": ROUND, "leaders": [bad]}) == [
        "leaders[0] (id pl-0001): field 'availability[1].start': must be a time written as HH:MM, for example 10:00",
        "leaders[0] (id pl-0001): field 'availability[1].end': must be a time written as HH:MM, for example 12:30",
    ]


def test_a_leader_without_an_id_is_named_by_position(tmp_path):
    nameless = {k: v for k, v in leader("x").items() if k != "id"}
    assert problems(tmp_path, {"round": ROUND, "leaders": [nameless]}) == ["leaders[0] (no id): field 'id': is required"]


def test_invalid_choices_list_the_allowed_values(tmp_path):
    (problem,) = problems(tmp_path, {"round": ROUND, "leaders": [leader("pl-0001", meeting_modes=["fax"])]})
    assert problem == "leaders[0] (id pl-0001): field 'meeting_modes[0]': must be one of 'in_person', 'video' or 'phone'"


def test_cross_references_are_checked(tmp_path):
    (problem,) = problems(tmp_path, {"round": ROUND, "leaders": [leader("pl-0001")], "locked_pairs": [["pl-0001", "cl-9"]]})
    assert "cl-9" in problem and "not in the cohort" in problem


def test_broken_json_and_missing_files_are_explained(tmp_path):
    (problem,) = problems(tmp_path, '{"round": ')
    assert problem.startswith("is not valid JSON")
    with pytest.raises(CohortFileError, match="cannot be read"):
        load_cohort(tmp_path / "missing.json")


def test_a_repeated_id_names_the_first_one_repeated(tmp_path):
    leaders = [leader("pl-0001"), leader("pl-0002"), prof("cl-0001"), leader("pl-0002"), leader("pl-0001")]
    assert problems(tmp_path, {"round": ROUND, "leaders": leaders}) == [
        "cohort: leader pl-0002: id appears more than once; each leader needs its own id"
    ]


def test_a_file_only_the_fast_reader_refuses_still_loads(tmp_path):
    # A lone surrogate escape: Python's JSON reader takes it, pydantic's refuses it, so the file is read
    # the slower way, and accepted exactly as before the fast reader.
    text = json.dumps({"round": ROUND, "leaders": [leader("pl-0001", organisation="x"), prof("cl-0001")]})
    cohort = load_cohort(write(tmp_path, text.replace('"x"', '"\\ud800"')))
    assert cohort.leaders[0].organisation == "\ud800"


def test_trailing_text_after_the_cohort_is_explained_as_before(tmp_path):
    text = json.dumps({"round": ROUND, "leaders": [leader("pl-0001")]}) + " x"
    assert problems(tmp_path, text) == [f"is not valid JSON: Extra data at line 1, column {len(text)}"]


def test_the_garbage_collector_is_left_as_it_was(tmp_path):
    good = write(tmp_path, {"round": ROUND, "leaders": [leader("pl-0001"), prof("cl-0001")]})
    run_match(good, tmp_path / "result.json")
    assert gc.isenabled() and gc.get_freeze_count() == 0
    with pytest.raises(CohortFileError):
        run_match(write(tmp_path, {"round": ROUND, "leaders": [leader("pl-0001", capacity=-1)]}), tmp_path / "r.json")
    assert gc.isenabled() and gc.get_freeze_count() == 0


def test_run_match_writes_the_result_file(tmp_path):
    source = write(tmp_path, {"round": ROUND, "leaders": [leader("pl-0001"), prof("cl-0001")]})
    out = tmp_path / "result.json"
    result = run_match(source, out)
    written = CohortResult.model_validate_json(out.read_text())
    assert written == result
    assert [(p.lived_experience_id, p.professional_id) for p in written.pairs] == [("pl-0001", "cl-0001")]
    assert written.stats.wall_seconds >= 0


def test_json_schema_is_written_and_forbids_unknown_fields(tmp_path):
    path = tmp_path / "cohort.schema.json"
    write_json_schema(path)
    schema = json.loads(path.read_text())
    assert schema["additionalProperties"] is False
    assert schema["$defs"]["MatchingProfile"]["additionalProperties"] is False
    assert "from" in schema["$defs"]["DateRange"]["properties"]


def test_the_shipped_json_schema_is_up_to_date():
    assert SCHEMA_PATH.read_text() == json_schema_text(), "run `pairing match --schema schemas/cohort.schema.json`"


def test_the_json_schema_accepts_the_documented_example_fields():
    schema = json.loads(json_schema_text())
    round_fields = schema["$defs"]["RoundSpec"]["properties"]
    assert {"sessions", "school_holidays", "time_limit_seconds", "seed", "min_pairs_per_system"} <= set(round_fields)
    assert schema["$defs"]["RoundSpec"]["additionalProperties"] is False


def test_a_negative_area_minimum_is_explained(tmp_path):
    assert problems(tmp_path, {"round": ROUND | {"min_pairs_per_system": {"QHM": -1}}, "leaders": [leader("pl-0001")]}) == [
        "round: field 'min_pairs_per_system.QHM': must be a whole number of pairs, 0 or more, for each area code"
    ]


def test_match_command_prints_a_plain_summary(tmp_path, capsys):
    source = write(tmp_path, {"round": ROUND, "leaders": [leader("pl-0001"), leader("pl-0002"), prof("cl-0001")]})
    main(["match", source, "-o", str(tmp_path / "result.json")])
    out = capsys.readouterr().out
    assert "Round r-1: 3 leaders (2 patient and carer leaders, 1 professional)." in out
    assert "1 pair; 1 person not paired." in out
    assert "Most common reasons for not being paired: more people than places (1)." in out
    assert "Status: optimal (proven best)" in out
    assert CohortResult.model_validate_json((tmp_path / "result.json").read_text()).pairs


def test_match_command_lists_the_changes_an_infeasible_round_needs(tmp_path, capsys):
    source = write(
        tmp_path, {"round": ROUND | {"min_pairs_per_system": {"QXX": 2}}, "leaders": [leader("pl-0001"), prof("cl-0001")]}
    )
    main(["match", source, "-o", str(tmp_path / "result.json")])
    out = capsys.readouterr().out
    assert "cannot be solved as it is set up" in out and "- Lower the minimum for area QXX from 2 to 0 pairs." in out


def test_match_command_writes_the_schema(tmp_path, capsys):
    main(["match", "--schema", str(tmp_path / "cohort.schema.json")])
    assert (tmp_path / "cohort.schema.json").read_text() == json_schema_text()


def test_match_command_without_a_file_says_what_it_needs(capsys):
    with pytest.raises(SystemExit) as stopped:
        main(["match"])
    assert stopped.value.code == 2
    assert "give a cohort file and -o RESULT.json, or --schema FILE" in capsys.readouterr().err


def test_a_time_with_an_offset_is_named_not_a_crash(tmp_path):
    # One end with an offset and one without could not be compared: the command crashed with a TypeError.
    bad = leader("pl-0001", availability=[{"day": "tue", "start": "10:00Z", "end": "23:00"}])
    session = {"date": "2027-01-12", "start": "10:00", "end": "15:00+01:00"}
    found = problems(tmp_path, {"round": ROUND | {"sessions": [session]}, "leaders": [bad]})
    offset = "write the time without an offset such as Z or +01:00: it is Europe/London local time, for example 09:30"
    assert found == [
        f"round: field 'sessions[0].end': {offset}",
        f"leaders[0] (id pl-0001): field 'availability[0].start': {offset}",
    ]
