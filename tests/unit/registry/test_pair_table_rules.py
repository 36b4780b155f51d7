"""The review table's rules: what the page's address asks for, and the rows it gives (filtered,
sorted, paged), without a database or a browser."""

import pytest

from services.registry.domain.pair_table import TableQuery, arrange, read_query

pytestmark = pytest.mark.unit

MODES = {"in_person": "In person", "video": "Video", "phone": "Phone"}


def row(
    number, lived="Ann", professional="Dr Bo", fit=70, modes=("video",), meeting=None, areas=("QHM",), needs=False, approved=False
):
    return {
        "number": number,
        "lived_name": lived,
        "professional_name": professional,
        "fit": fit,
        "modes": ", ".join(MODES[m] for m in modes),
        "mode_codes": list(modes),
        "meeting_key": meeting,
        "areas": set(areas),
        "has_needs": needs,
        "approved": approved,
    }


ROWS = [
    row(1, "Cara Lee", "Dr Ahmed", 82, ("in_person", "video"), "2027-02-03 10:00", ("QHM",), needs=True),
    row(2, "Ann Smith", "Nurse Kay", 45, ("phone",), None, ("QOP",), approved=True),
    row(3, "Bea Jones", "Dr Zed", 60, ("video",), "2027-01-20 14:00", ("QHM", "QOP")),
]


def numbers(arranged):
    return [r["number"] for r in arranged.rows]


def test_the_address_is_read_and_anything_not_understood_is_left_out():
    query = read_query(
        {
            "q": "  ann ",
            "area": "qhm",
            "needs": "yes",
            "mode": "fax",
            "below": "abc",
            "sort": "fit",
            "order": "sideways",
            "page": "-3",
        },
        may_see_needs=True,
        modes=MODES,
    )
    assert query == TableQuery(q="ann", area="QHM", needs="yes", mode="", below=None, sort="fit", order="ascending", page=1)
    assert read_query({"below": "500", "area": "Q H M"}, True, MODES).below == 101
    assert read_query({"area": "Q H M"}, True, MODES).area == ""


def test_a_viewer_cannot_filter_by_access_needs():
    assert read_query({"needs": "yes"}, may_see_needs=False, modes=MODES).needs == ""


@pytest.mark.parametrize(
    "query,expected",
    [
        (TableQuery(), [1, 2, 3]),
        (TableQuery(q="SMITH"), [2]),
        (TableQuery(q="dr"), [1, 3]),
        (TableQuery(area="QOP"), [2, 3]),
        (TableQuery(needs="yes"), [1]),
        (TableQuery(needs="no"), [2, 3]),
        (TableQuery(mode="video"), [1, 3]),
        (TableQuery(below=60), [2]),
        (TableQuery(below=61), [2, 3]),
        (TableQuery(approved="no"), [1, 3]),
        (TableQuery(area="QHM", mode="video", below=70), [3]),
    ],
)
def test_filters_keep_only_the_pairs_that_match_all_of_them(query, expected):
    arranged = arrange(ROWS, query)
    assert numbers(arranged) == expected
    assert (arranged.matched, arranged.total) == (len(expected), 3)


@pytest.mark.parametrize(
    "sort,order,expected",
    [
        ("name", "ascending", [2, 3, 1]),
        ("name", "descending", [1, 3, 2]),
        ("fit", "ascending", [2, 3, 1]),
        ("fit", "descending", [1, 3, 2]),
        ("mode", "ascending", [1, 2, 3]),
        ("first_meeting", "ascending", [3, 1, 2]),
        ("first_meeting", "descending", [1, 3, 2]),
    ],
)
def test_each_column_sorts_both_ways_and_pairs_with_no_meeting_yet_come_last(sort, order, expected):
    assert numbers(arrange(ROWS, TableQuery(sort=sort, order=order))) == expected


def test_equal_values_keep_the_pair_order():
    same = [row(n, fit=50) for n in (4, 2, 9)]
    assert numbers(arrange(same, TableQuery(sort="fit"))) == [2, 4, 9]


def test_pages_of_fifty_and_a_page_past_the_end_shows_the_last():
    many = [row(n) for n in range(1, 121)]
    second = arrange(many, TableQuery(page=2))
    assert (numbers(second)[0], numbers(second)[-1], second.page, second.pages) == (51, 100, 2, 3)
    last = arrange(many, TableQuery(page=9))
    assert (last.page, len(last.rows)) == (3, 20)
    assert len(arrange(many, TableQuery(), per_page=None).rows) == 120
    assert (arrange([], TableQuery()).pages, arrange([], TableQuery()).rows) == (1, [])


def test_links_keep_the_filters_and_turn_the_sort_round():
    query = TableQuery(q="ann", below=60, sort="fit", order="ascending", page=3)
    assert query.params() == {"q": "ann", "below": "60", "sort": "fit", "order": "ascending", "page": "3"}
    assert query.sort_params("fit") == {"q": "ann", "below": "60", "sort": "fit", "order": "descending"}
    assert query.sort_params("name") == {"q": "ann", "below": "60", "sort": "name", "order": "ascending"}
    assert (query.aria_sort("fit"), query.aria_sort("name")) == ("ascending", "none")
    assert TableQuery().params() == {}
