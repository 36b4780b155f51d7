"""Traces name the route, never the answer code or token in the address, nor the query string:
a leader answers through their link on the real registry, and no trace line holds the code."""

from __future__ import annotations

import json

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider

from services.common.tracing import JsonLinesExporter, export_to
from tests.integration.helpers import DEFAULT_ADDRESS, paired_outcomes

pytestmark = pytest.mark.integration


@pytest.fixture(params=["sqlite"])
def database_kind(request) -> str:
    return request.param  # tracing does not depend on the database


@pytest.fixture
def trace_file(tmp_path):
    provider = trace.get_tracer_provider()
    if not isinstance(provider, TracerProvider):
        provider = TracerProvider()
        trace.set_tracer_provider(provider)
    path = tmp_path / "traces-registry.jsonl"
    exporter = JsonLinesExporter(path)
    export_to(provider, exporter, batch=False)  # as configure_tracing does, without waiting for a batch
    yield path
    exporter.shutdown()  # the processor stays on the provider, writing nowhere


async def test_answering_through_a_link_leaves_no_code_in_any_trace(registry, kafka_settings, trace_file):
    _, _, signs, _, outcomes = await paired_outcomes(registry, kafka_settings)
    (theirs,) = outcomes[signs["id"]].data.partners
    path = theirs.decline_url.removeprefix(DEFAULT_ADDRESS)
    code = path.rsplit("/", 1)[-1]
    assert (await registry.get(path, params={"answer": "decline"})).status_code == 200
    assert (await registry.post(path, data={"answer": "decline", "reason": "moved away"})).status_code == 200

    lines = trace_file.read_text().splitlines()
    spans = [json.loads(line) for line in lines]
    answer_spans = [s for s in spans if s["name"] in ("GET /a/{code}", "POST /a/{code}")]
    assert len(answer_spans) == 2, sorted({s["name"] for s in spans})
    assert all(s["attributes"].get("url.path") == "/a/{code}" for s in answer_spans)
    assert not [line for line in lines if code in line or code.upper() in line or "answer=decline" in line]
