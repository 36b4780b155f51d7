"""When a pair ends: who is told what, in their format, kindly, and never why."""

import pytest
from notifier_samples import ME, PARTNER, PROGRAMME_CONTACT

from schemas.events import PairEnded, PairEnding
from services.notifier.domain.messages import Block
from services.notifier.domain.pair_endings import CONFIRMED, PAIR_ENDED, messages_for
from services.notifier.domain.sms import fits
from services.notifier.notices import PairEndedNotice, notice_for
from services.notifier.pair_ended_words import plan_pair_ended, plan_pair_ended_task

pytestmark = pytest.mark.unit


def ended(by: str = "leader") -> PairEnded:
    data = PairEnding(round_id="r1", leader_id="cl-1", partner_id="pl-1", ended_by=by)  # cl-1 asked; pl-1 is told
    return PairEnded(producer="registry", correlation_id="r1", data=data)


def news_for(event: PairEnded, leader_id: str):
    return next(m for m in messages_for(event) if m.data.leader_id == leader_id)


def test_the_partner_is_told_and_the_person_who_asked_gets_a_confirmation():
    told = {m.data.leader_id: m.data.kind for m in messages_for(ended())}
    assert told == {"pl-1": PAIR_ENDED, "cl-1": CONFIRMED}


def test_when_the_team_ended_it_both_are_told_as_partners():
    told = {m.data.leader_id: m.data.kind for m in messages_for(ended("programme_team"))}
    assert told == {"pl-1": PAIR_ENDED, "cl-1": PAIR_ENDED}


def test_each_persons_news_has_its_own_id_the_same_every_time_the_event_comes():
    event = ended()
    first, again = messages_for(event), messages_for(event)
    assert [m.event_id for m in first] == [m.event_id for m in again]
    assert len({m.event_id for m in first}) == 2


def test_the_notice_reports_what_the_message_is_about():
    notice = notice_for(news_for(ended(), "pl-1"))
    assert isinstance(notice, PairEndedNotice)
    assert (notice.leader_id, notice.about, notice.needed, notice.wanted) == ("pl-1", "pair_ended", ["pl-1"], ["cl-1"])


@pytest.mark.parametrize("format_", ["standard", "large_print_24", "easy_read"])
def test_the_partner_hears_kindly_it_is_not_their_fault_and_what_happens_next(format_):
    me = ME.model_copy(update={"information_format": format_})
    message = plan_pair_ended(news_for(ended(), "pl-1").data, me, PARTNER, PROGRAMME_CONTACT)
    text = message.text
    assert "not your fault" in text
    assert "new partner" in text
    assert PARTNER.name in text
    assert PROGRAMME_CONTACT.phone in text  # how to talk to someone without the internet
    assert "as you asked" not in text


def test_easy_read_has_pictures():
    me = ME.model_copy(update={"information_format": "easy_read"})
    message = plan_pair_ended(news_for(ended(), "pl-1").data, me, PARTNER, PROGRAMME_CONTACT)
    assert any(block.picture for block in message.blocks)
    assert "<img" in message.html


def test_the_person_who_asked_is_told_it_is_done():
    me = PARTNER.model_copy(update={"email": "ben@example.org"})
    message = plan_pair_ended(news_for(ended(), "cl-1").data, me, ME, PROGRAMME_CONTACT)
    assert "as you asked" in message.text and ME.name in message.text


@pytest.mark.parametrize("leader_id", ["pl-1", "cl-1"])
def test_text_messages_fit_in_two_parts_even_with_long_names(leader_id):
    long_name = "Bartholomew-Alexander Featherstonehaugh-Montgomery"
    me = ME.model_copy(update={"contact_method": "sms", "phone": "07700 900123", "name": long_name})
    other = PARTNER.model_copy(update={"name": "Maximiliana Wolfeschlegelsteinhausen-Bergerdorff"})
    message = plan_pair_ended(news_for(ended(), leader_id).data, me, other, PROGRAMME_CONTACT)
    assert message.channel == "sms"
    assert fits(message.sms)
    assert "fault" in message.sms or "as you asked" in message.sms


def test_an_unknown_partner_is_not_named():
    message = plan_pair_ended(news_for(ended(), "pl-1").data, ME, None, PROGRAMME_CONTACT)
    assert "your pair with your partner has ended" in message.text


def test_a_task_for_a_person_carries_the_news_without_a_reason_or_an_internal_id():
    planned = plan_pair_ended_task(news_for(ended(), "pl-1").data, {"pl-1": ME, "cl-1": PARTNER}, "no details", PROGRAMME_CONTACT)
    assert planned.channel == "person"
    assert "not their fault" in planned.text and ME.name in planned.text
    assert "pl-1" not in planned.text and "cl-1" not in planned.text
    # As every message a person passes on: how to pass it on comes just before the news itself.
    heading = planned.blocks.index(Block("h2", f"The news for {ME.name}"))
    assert planned.blocks[heading - 1] == Block("p", "Tell them the news below, in the way they need.")
