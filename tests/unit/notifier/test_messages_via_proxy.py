"""Messages sent through a carer or another person the leader named, only with their agreement."""

import datetime as dt

import pytest
from notifier_samples import ME, PARTNER, PROGRAMME_CONTACT, PUBLISHED_ON

from schemas.events import ContactProxy, PairAnswer
from services.notifier.compose import plan_partner_declined
from services.notifier.domain.messages import choose_route, recipient
from services.registry.domain.leaders import Consent, LeaderIn, ProxyIn

pytestmark = pytest.mark.unit

SAM = ContactProxy(
    name="Sam Ahmed", relationship="son", email="sam@example.org", phone="07700 900456", postal_address="2 Example Road, NE1 2AA"
)
# A leader who asked to be contacted through their son, and has no address of their own.
VIA_SAM = ME.model_copy(update={"contact_method": "via_carer", "email": None, "proxy": SAM})
PREAMBLE = "This message is for Amira Ahmed. You are getting it because Amira Ahmed asked us to send their messages to you."
DECLINED = PairAnswer(round_id="r1", leader_id="cl-1", partner_id="pl-1")


def only(**addresses) -> ContactProxy:
    return SAM.model_copy(update={"email": None, "phone": None, "postal_address": None, **addresses})


def test_with_a_consented_proxy_who_has_an_email_address_the_message_is_emailed_to_them():
    route = choose_route(VIA_SAM)
    assert (route.channel, route.to_proxy) == ("email", True)
    to = recipient(VIA_SAM, route)
    assert (to.name, to.email, to.leader_id) == ("Sam Ahmed", "sam@example.org", "pl-1")


@pytest.mark.parametrize(
    ("addresses", "channel", "field", "value"),
    [
        (
            {"postal_address": "2 Example Road, NE1 2AA", "phone": "07700 900456"},
            "letter",
            "postal_address",
            "2 Example Road, NE1 2AA",
        ),
        ({"phone": "07700 900456"}, "sms", "phone", "07700 900456"),
    ],
)
def test_without_an_email_address_the_proxy_gets_a_letter_else_a_text_message(addresses, channel, field, value):
    me = VIA_SAM.model_copy(update={"proxy": only(**addresses), "phone": "07700 900999", "postal_address": "1 Other Street"})
    route = choose_route(me)
    assert (route.channel, route.to_proxy) == (channel, True)
    assert getattr(recipient(me, route), field) == value, "the proxy's address, never the leader's"


def test_a_proxy_with_no_address_means_a_task_for_a_person():
    route = choose_route(VIA_SAM.model_copy(update={"proxy": only()}))
    assert (route.channel, route.to_proxy) == ("person", False)
    assert "no email address, postal address or phone number for that person" in route.why_a_person
    assert "Sam" not in route.why_a_person


def test_via_a_carer_with_no_proxy_recorded_is_still_a_task_for_a_person():
    route = choose_route(VIA_SAM.model_copy(update={"proxy": None}))
    assert route.channel == "person" and "no one is recorded" in route.why_a_person


def registered(consents: list[Consent], method: str = "via_carer") -> LeaderIn:
    return LeaderIn(
        id="pl-1",
        name="Amira Ahmed",
        role="patient_leader",
        contact_method=method,
        system="QHM",
        meeting_modes=["video"],
        proxy=ProxyIn(name="Sam Ahmed", relationship="son", email="sam@example.org"),
        consents=consents,
    )


AGREED = Consent(purpose="contact_via_proxy", given=True, at=dt.datetime(2026, 11, 1, tzinfo=dt.UTC))
WITHDRAWN = Consent(purpose="contact_via_proxy", given=False, at=dt.datetime(2026, 12, 1, tzinfo=dt.UTC))


@pytest.mark.parametrize(
    ("consents", "channel"),
    [
        ([AGREED], "email"),
        ([], "person"),
        ([Consent(purpose="contact", given=True, at=AGREED.at)], "person"),
        ([AGREED, WITHDRAWN], "person"),
        ([WITHDRAWN, AGREED.model_copy(update={"at": dt.datetime(2027, 1, 1, tzinfo=dt.UTC)})], "email"),
    ],
)
def test_a_proxy_without_the_leaders_agreement_is_never_used(consents, channel):
    """From the registry's record to the route: the proxy reaches the notifier only with consent."""
    route = choose_route(registered(consents).contact(1))
    assert route.channel == channel and route.to_proxy == (channel == "email")


def test_needs_only_a_person_can_meet_still_go_to_a_person_with_a_proxy():
    for change in ({"information_format": "braille"}, {"communication_professional": "British Sign Language interpreter"}):
        assert choose_route(VIA_SAM.model_copy(update=change)).channel == "person"


def test_a_proxy_is_not_used_when_the_leader_asked_to_be_contacted_another_way():
    route = choose_route(VIA_SAM.model_copy(update={"contact_method": "email", "email": "amira@example.org"}))
    assert route.to_proxy is False and recipient(VIA_SAM, route).email is None


@pytest.mark.parametrize("style", ["standard", "large_print_24"])
def test_the_message_to_a_proxy_opens_by_saying_who_it_is_for_and_why_it_came_to_them(style):
    message = plan_partner_declined(
        DECLINED, VIA_SAM.model_copy(update={"information_format": style}), PARTNER, PROGRAMME_CONTACT, PUBLISHED_ON
    )
    assert message.text.startswith(PREAMBLE + "\n\nPlease share it with Amira Ahmed.")
    assert "Dear Amira Ahmed" in message.text, "the message itself is still the leader's"
    assert message.html.index("This message is for Amira Ahmed") < message.html.index("<h1")
    assert message.subject.startswith("A message for Amira Ahmed: ")
    assert message.blocks[0].kind == "p" and any(b.kind == "h1" for b in message.blocks)


def test_the_easy_read_and_text_message_versions_open_the_same_way():
    easy = plan_partner_declined(
        DECLINED, VIA_SAM.model_copy(update={"information_format": "easy_read"}), PARTNER, PROGRAMME_CONTACT, PUBLISHED_ON
    )
    assert easy.text.startswith("This message is for Amira Ahmed.\n\nAmira Ahmed asked us to send their messages to you.")
    text = plan_partner_declined(
        DECLINED, VIA_SAM.model_copy(update={"proxy": only(phone="07700 900456")}), PARTNER, PROGRAMME_CONTACT, PUBLISHED_ON
    )
    # Shorter in a text message, to fit 2 parts: who it is for, and why it came to them.
    assert text.channel == "sms" and text.sms.startswith(
        "This message is for Amira Ahmed, who asked us to send you their messages."
    )


def test_a_message_to_the_leader_themselves_has_no_words_for_a_proxy():
    message = plan_partner_declined(DECLINED, ME, PARTNER, PROGRAMME_CONTACT, PUBLISHED_ON)
    assert "This message is for" not in message.text and "This message is for" not in message.sms
    assert not message.subject.startswith("A message for")
