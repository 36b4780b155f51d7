"""A person approves every pair (UK GDPR article 22): page by page on the review table, and the
round is published only when every pair is approved."""

import pytest

from services.registry.domain.approval import (
    ApprovalRefused,
    approved_words,
    pairs_to_approve,
    refuse_publishing_unless_approved,
    still_to_approve,
)

pytestmark = pytest.mark.unit


def test_the_checked_pairs_not_yet_approved_are_approved_and_earlier_approvals_stay():
    assert pairs_to_approve("proposed", {1: False, 2: True, 3: False}, [3, 2, 3]) == [3]


def test_pairs_are_approved_only_while_the_round_waits_for_review():
    with pytest.raises(ApprovalRefused, match="This round is queued"):
        pairs_to_approve("queued", {1: False}, [1])


def test_pairs_no_longer_in_the_round_are_refused_and_nothing_is_approved():
    with pytest.raises(ApprovalRefused, match="changed since this page was shown"):
        pairs_to_approve("proposed", {1: False}, [1, 7])


def test_a_page_with_no_pairs_approves_nothing():
    with pytest.raises(ApprovalRefused, match="no pairs on this page"):
        pairs_to_approve("proposed", {1: False}, [])


def test_publishing_is_refused_until_every_pair_is_approved():
    with pytest.raises(ApprovalRefused, match=r"^2 pairs have not been approved yet"):
        refuse_publishing_unless_approved([True, False, False])
    with pytest.raises(ApprovalRefused, match=r"^1 pair has not"):
        refuse_publishing_unless_approved([False])
    refuse_publishing_unless_approved([True, True])
    refuse_publishing_unless_approved([])


def test_what_the_manager_is_told():
    assert still_to_approve([True, False]) == 1
    assert approved_words(90, 50) == "You approved 50 pairs. 90 pairs are still to approve."
    assert approved_words(0, 1) == "You approved 1 pair. Every pair is approved. Publish the round to tell people."
