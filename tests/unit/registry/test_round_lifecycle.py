import itertools

import pytest

from services.registry.domain.rounds import ALLOWED, IllegalTransition, RoundStatus, transition

pytestmark = pytest.mark.unit

HAPPY_PATH = ["draft", "queued", "solving", "proposed", "approved", "published", "closed"]


def test_the_happy_path_is_allowed_step_by_step():
    for current, target in itertools.pairwise(HAPPY_PATH):
        assert transition(current, RoundStatus(target)) == target


@pytest.mark.parametrize("current", list(RoundStatus))
@pytest.mark.parametrize("target", list(RoundStatus))
def test_every_transition_is_either_allowed_or_refused_in_plain_words(current, target):
    if target in ALLOWED[current]:
        assert transition(current, target) is target
    else:
        with pytest.raises(IllegalTransition) as refused:
            transition(current, target)
        message = str(refused.value)
        assert message.startswith(f"This round is {current.value}, so it cannot be ")
        assert "From" in message


def test_a_round_cannot_be_published_before_a_person_approves_it():
    with pytest.raises(IllegalTransition, match="proposed, so it cannot be published"):
        transition("proposed", RoundStatus.published)


def test_finished_rounds_go_nowhere():
    for final in (RoundStatus.closed, RoundStatus.cancelled):
        assert ALLOWED[final] == frozenset()
        with pytest.raises(IllegalTransition, match="nothing: it is finished"):
            transition(final, RoundStatus.queued)
