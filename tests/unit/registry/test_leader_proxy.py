"""A carer or other person who gets a leader's messages: recorded, and shared only with the leader's agreement."""

import datetime as dt

import pytest
from pydantic import ValidationError

from schemas.cohort import Location
from services.registry.domain.importing import parse_rows
from services.registry.domain.leaders import Consent, LeaderIn, ProxyIn, consent_given, with_consent
from services.registry.web import forms

pytestmark = pytest.mark.unit

NOV = dt.datetime(2026, 11, 1, tzinfo=dt.UTC)
DEC = dt.datetime(2026, 12, 1, tzinfo=dt.UTC)
AGREED = Consent(purpose="contact_via_proxy", given=True, at=NOV)
WITHDRAWN = Consent(purpose="contact_via_proxy", given=False, at=DEC)
SAM = ProxyIn(name="Sam Ahmed", relationship="son", email="sam@example.org", postal_address="2 Example Road, NE1 2AA")


def leader(consents: list[Consent], **change) -> LeaderIn:
    fields = {
        "id": "pl-1",
        "name": "Amira Ahmed",
        "role": "patient_leader",
        "contact_method": "via_carer",
        "system": "QHM",
        "meeting_modes": ["video"],
        "proxy": SAM,
        "consents": consents,
    }
    return LeaderIn(**{**fields, **change})


def test_the_contact_record_carries_the_proxy_only_with_the_leaders_agreement():
    shared = leader([AGREED]).contact(1).proxy
    assert shared is not None
    assert (shared.name, shared.relationship, shared.email, shared.postal_address) == (
        "Sam Ahmed",
        "son",
        "sam@example.org",
        "2 Example Road, NE1 2AA",
    )
    assert leader([]).contact(1).proxy is None, "no consent recorded"
    assert leader([AGREED, WITHDRAWN]).contact(2).proxy is None, "consent withdrawn"
    assert leader([Consent(purpose="contact", given=True, at=NOV)]).contact(1).proxy is None, "another purpose"
    assert leader([AGREED], contact_method="email", email="amira@example.org").contact(1).proxy is None, (
        "not asked to be contacted that way: the notifier does not need the proxy"
    )


def test_via_a_carer_is_accepted_without_a_proxy_or_an_address_for_one():
    assert leader([], proxy=None).contact_problem() is None
    assert leader([AGREED], proxy=ProxyIn(name="Sam Ahmed")).contact(1).proxy.email is None


def test_a_proxy_needs_a_name_and_an_email_address_that_looks_right_and_the_error_names_the_field():
    with pytest.raises(ValidationError) as bad:
        leader([], proxy={"name": "Sam Ahmed", "email": "not an address"})
    assert [e["loc"] for e in bad.value.errors()] == [("proxy", "email")]
    with pytest.raises(ValidationError) as nameless:
        leader([], proxy={"email": "sam@example.org"})
    assert [e["loc"] for e in nameless.value.errors()] == [("proxy", "name")]


def test_the_latest_answer_counts_and_an_unchanged_answer_is_not_recorded_again():
    assert consent_given(
        [WITHDRAWN, AGREED.model_copy(update={"at": dt.datetime(2027, 1, 1, tzinfo=dt.UTC)})], "contact_via_proxy"
    )
    assert not consent_given([AGREED, WITHDRAWN], "contact_via_proxy")
    assert with_consent([AGREED], "contact_via_proxy", True, DEC) == [AGREED]
    assert with_consent([AGREED], "contact_via_proxy", False, DEC) == [AGREED, WITHDRAWN]


HEADER = ["id", "name", "role", "system", "meeting_modes", "contact_method", "proxy_name", "proxy_email", "proxy_consent_date"]


def row(**cells: str) -> list[object]:
    values = {
        "id": "pl-1",
        "name": "Amira Ahmed",
        "role": "patient_leader",
        "system": "QHM",
        "meeting_modes": "video",
        "contact_method": "via_carer",
        "proxy_name": "Sam Ahmed",
        "proxy_email": "sam@example.org",
        "proxy_consent_date": "2026-11-01",
    }
    return [{**values, **cells}[c] for c in HEADER]


def no_town(name: str) -> Location:
    raise ValueError(name)


def test_an_imported_proxy_with_a_consent_date_is_shared_and_without_one_is_not():
    ((_, agreed),) = parse_rows(HEADER, [(2, row())], no_town)[0]
    assert agreed.consents == [AGREED] and agreed.contact(1).proxy.email == "sam@example.org"
    ((_, not_agreed),) = parse_rows(HEADER, [(2, row(proxy_consent_date=""))], no_town)[0]
    assert not_agreed.proxy.name == "Sam Ahmed" and not_agreed.contact(1).proxy is None


@pytest.mark.parametrize(
    ("cells", "column", "words"),
    [
        ({"proxy_email": "sam at example"}, "proxy_email", "name@example.org"),
        ({"proxy_name": ""}, "proxy_name", "required"),
        ({"proxy_consent_date": "last week"}, "proxy_consent_date", "like 26/01/2027"),
        ({"proxy_name": "", "proxy_email": ""}, "proxy_consent_date", "proxy_name"),
    ],
)
def test_an_import_row_with_a_bad_proxy_detail_names_the_column(cells, column, words):
    valid, problems = parse_rows(HEADER, [(2, row(**cells))], no_town)
    assert valid == []
    (problem,) = problems
    assert problem.column == column and words in problem.message


def form(**change: str) -> dict:
    values = {name: "" for name in forms.LEADER_FIELDS} | {
        "name": "Amira Ahmed",
        "role": "patient_leader",
        "status": "active",
        "system": "QHM",
        "contact_method": "via_carer",
        "information_format": "standard",
        "experience": "new",
        "term_time_only": "no",
        "capacity": "1",
        "meeting_modes": ["video"],
        "access_needs": [],
        "proxy_name": "Sam Ahmed",
        "proxy_email": "sam@example.org",
    }
    return values | change


def test_the_form_records_when_the_leader_agreed_and_keeps_the_consents_it_does_not_show():
    pairing = Consent(purpose="pairing", given=True, at=NOV)
    saved, errors = forms.leader_from_values(form(proxy_consent="yes"), "pl-1", [pairing.model_dump(mode="json")], now=DEC)
    assert errors == {}
    assert saved.consents == [pairing, Consent(purpose="contact_via_proxy", given=True, at=DEC)]
    assert saved.contact(1).proxy.name == "Sam Ahmed"
    view = {**saved.model_dump(mode="json")}
    assert forms.values_from_leader(view)["proxy_consent"] == "yes"
    assert forms.values_from_leader(view)["proxy_email"] == "sam@example.org"
    withdrawn, _ = forms.leader_from_values(form(proxy_consent="no"), "pl-1", view["consents"], now=DEC + dt.timedelta(days=1))
    assert withdrawn.contact(2).proxy is None and len(withdrawn.consents) == 3


def test_the_form_refuses_an_agreement_with_no_one_named_and_a_bad_proxy_email():
    _, errors = forms.leader_from_values(form(proxy_consent="yes", proxy_name="", proxy_email=""))
    assert errors == {
        "proxy_name": (
            "Enter the name of the person who gets their messages, because they agreed we send their messages to someone"
        )
    }
    _, errors = forms.leader_from_values(form(proxy_email="sam at example"))
    assert errors == {"proxy_email": "Email address of the person who gets their messages must look like name@example.org"}
