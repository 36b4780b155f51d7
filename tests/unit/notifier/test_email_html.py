"""The email's HTML part is character for character what the template with a macro for each block made.

compose.py now writes each block's HTML itself (node_html) and the template only puts the page
around it. Here the page is also made the way it was before, by the former template (below, as it
was), for every message of the gallery and for awkward words, and the two compared."""

from __future__ import annotations

import pytest
from jinja2 import Environment, StrictUndefined

from services.notifier import gallery
from services.notifier.compose import PICTURE_CREDIT, email_html, picture_cid
from services.notifier.domain.messages import Block, html_nodes, pictures_in

pytestmark = pytest.mark.unit

FORMER_TEMPLATE = """<!DOCTYPE html>
<html lang="en-GB">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{ subject }}</title>
</head>
{#- comment #}
{% macro content(node) %}
{% if node.kind == "h1" %}
<h1 style="font-size: 1.6em; line-height: 1.25; margin: 0 0 0.75em;">{{ node.text }}</h1>
{% elif node.kind == "h2" %}
<h2 style="font-size: 1.35em; line-height: 1.3; margin: 1.5em 0 0.5em;">{{ node.text }}</h2>
{% elif node.kind == "h3" %}
<h3 style="font-size: 1.15em; line-height: 1.3; margin: 1.25em 0 0.5em;">{{ node.text }}</h3>
{% elif node.kind == "ul" %}
<ul style="margin: 0 0 1em; padding-left: 1.5em;">
{% for item in node["items"] %}
<li>{{ item }}</li>
{% endfor %}
</ul>
{% elif node.kind == "link" %}
<p style="margin: 0 0 1em;"><a href="{{ node.url }}" style="color: #005eb8; text-decoration: underline; font-weight: bold;">{{ node.text }}</a></p>
{% else %}
<p style="margin: 0 0 1em;">{{ node.text }}</p>
{% endif %}
{% endmacro %}
<body style="margin: 0; padding: 1em; font-family: Arial, Helvetica, sans-serif; font-size: {{ font_points }}pt; line-height: 1.5; color: #212b32; background: #ffffff;">
<main style="max-width: 40em;">
{% for node in nodes %}
{% if node.picture %}
<table role="presentation" style="border-collapse: collapse;"><tr>
<td style="vertical-align: middle; padding: 0 0.75em 0 0;"><img src="{{ picture_src(node.picture) }}" alt="" width="56" height="56" style="display: block;"></td>
<td style="vertical-align: middle;">{{ content(node) }}</td>
</tr></table>
{% else %}
{{ content(node) }}
{% endif %}
{% endfor %}
{% if credit %}
<p style="margin: 2em 0 0; font-size: 0.7em; color: #4c6272;">{{ credit }}</p>
{% endif %}
</main>
</body>
</html>
"""  # noqa: E501  # the template's lines as they were
FORMER = Environment(autoescape=True, undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True).from_string(
    FORMER_TEMPLATE
)


def former_html(subject: str, blocks: list[Block] | tuple[Block, ...], font_points: int, picture_src=None) -> str:
    return FORMER.render(
        subject=subject,
        nodes=html_nodes(list(blocks)),
        font_points=font_points,
        picture_src=picture_src or (lambda name: f"cid:{picture_cid(name)}"),
        credit=PICTURE_CREDIT if pictures_in(blocks) else "",
    )


def test_every_message_of_the_gallery_has_the_same_html_as_before():
    seen = set()
    for kind, person, what in gallery._cases():
        for change in gallery.FORMATS.values():
            me = person.model_copy(update=gallery._through_proxy(person, change) if person.proxy else change)
            message = gallery._plan(what, me)
            assert message.html == former_html(message.subject, message.blocks, message.route.font_points), kind
            seen |= {block.kind for block in message.blocks} | ({"picture"} if pictures_in(message.blocks) else set())
    assert seen >= {"h1", "h2", "h3", "p", "li", "link", "picture"}


AWKWARD = 'Zoë <b>"Bold"</b> & O\'Neil {{ not a template }} {% neither %}'


def test_awkward_words_pictures_and_addresses_are_escaped_as_before():
    blocks = [
        Block("h1", AWKWARD),
        Block("h2", AWKWARD, picture="handshake"),
        Block("h3", AWKWARD),
        Block("p", AWKWARD),
        Block("li", AWKWARD),
        Block("li", AWKWARD, picture="calendar"),
        Block("li", "<script>"),
        Block("li", "next"),
        Block("link", AWKWARD, 'https://example.org/a?b=1&c="2"<x>'),
        Block("link", "Yes", "https://example.org/yes", picture="tick"),
    ]
    for src in (None, lambda name: f'data:image/png;base64,"{name}"&<>'):
        for some in (blocks, blocks[:1], blocks[3:5], []):
            assert email_html(AWKWARD, some, 20, src) == former_html(AWKWARD, some, 20, src)
    assert "&lt;b&gt;&#34;Bold&#34;&lt;/b&gt; &amp; O&#39;Neil" in email_html(AWKWARD, blocks, 20)
