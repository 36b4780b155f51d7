"""make messages: every kind of message in every format, written into a folder a person can open."""

import pytest

from services.notifier.domain.sms import segments
from services.notifier.gallery import FORMATS, UNMATCHED_REASONS, write_gallery

pytestmark = pytest.mark.unit


@pytest.fixture(scope="module")
def gallery(tmp_path_factory):
    folder = tmp_path_factory.mktemp("messages")
    return folder, write_gallery(folder).read_text()


def test_the_index_lists_every_kind_and_every_format(gallery):
    _, index = gallery
    for kind in (
        "paired",
        "paired again",
        "through their son",
        "two partners",
        "partner said no",
        "pairing cancelled",
        "contact details missing",
        "reminder: no answer yet",
        "no answer by the answer date",
        "pair ended",
        "pair ended, as they asked",
        "what difference the pairs made, when a round closes",
    ):
        assert kind in index
    for reason in UNMATCHED_REASONS:
        assert f"not paired: {reason}" in index
    for format_name in FORMATS:
        assert f"<strong>{format_name}</strong>" in index


def test_every_file_the_index_links_to_is_there_and_letters_have_page_pictures(gallery):
    folder, index = gallery
    import re

    linked = re.findall(r'href="([^"]+)"', index)
    assert linked and all((folder / name).is_file() for name in linked)
    assert any(name.endswith("-page-1.png") for name in linked)
    assert (folder / "paired-letter-page-1.png").read_bytes().startswith(b"\x89PNG")


def test_the_gallery_messages_keep_the_rules(gallery):
    folder, _ = gallery
    for text in folder.glob("*text-message.txt"):
        assert segments(text.read_text()) <= 2, text.name
    for task in folder.glob("*task*.txt"):
        body = task.read_text()
        assert "http" not in body and "Do it by:" in body, task.name
    easy = (folder / "paired-easy-read-email.html").read_text()
    assert "data:image/png;base64," in easy and "OpenMoji" in easy
