"""Tracing with OpenTelemetry, carried through Kafka headers, so one round can
be followed from the manager's request through the matcher to every message.

Spans go to an OTLP collector when OTEL_EXPORTER_OTLP_ENDPOINT is set, and to
a JSON-lines file when TRACES_FILE is set (`make run` writes
var/logs/traces-<service>.jsonl; `pairing trace ROUND_ID` prints a round's
spans from those files). Span attributes carry round and event ids only, never
personal data or a person's id (a record's key, or the correlation id of an event
about one person), and never an address's path or query: those can hold a
leader's answer code, so every exporter sees the route template (`/a/{code}`) instead.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from opentelemetry import propagate, trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor, SpanExporter, SpanExportResult

from services.common.logs import names_a_person

CORRELATION = "pairing.correlation_id"
# The record's key (a person's id on most topics), and the correlation id as FastStream records it.
RECORD_KEY = "messaging.kafka.message.key"
CORRELATIONS = (CORRELATION, "messaging.message.conversation_id")
TOPIC_ATTRIBUTES = ("messaging.destination_publish.name", "messaging.destination.name")
# Attributes that hold the address as it was asked for (with any code or token in it, and the query string).
ADDRESS_ATTRIBUTES = ("url.path", "url.query", "url.full", "http.target", "http.url")


def without_people(attributes: dict[str, Any]) -> dict[str, Any]:
    """The attributes without the record's key or a correlation id that is a person's id."""
    key = attributes.pop(RECORD_KEY, None)
    topic = next((str(attributes[name]) for name in TOPIC_ATTRIBUTES if name in attributes), None)
    for name in CORRELATIONS:
        if names_a_person(topic, key, str(attributes.get(name) or "")):
            attributes.pop(name)
    return attributes


def without_addresses(span: ReadableSpan) -> ReadableSpan:
    """The span with its address attributes replaced by the route template, and no person's id."""
    attributes = without_people(dict(span.attributes or {}))
    if not any(name in attributes for name in ADDRESS_ATTRIBUTES) and attributes == dict(span.attributes or {}):
        return span
    for name in ADDRESS_ATTRIBUTES:
        attributes.pop(name, None)
    if route := attributes.get("http.route"):
        attributes["url.path"] = route
    return ReadableSpan(
        name=span.name,
        context=span.context,
        parent=span.parent,
        resource=span.resource,
        attributes=attributes,
        events=span.events,
        links=span.links,
        kind=span.kind,
        status=span.status,
        start_time=span.start_time,
        end_time=span.end_time,
        instrumentation_scope=span.instrumentation_scope,
    )


class WithoutAddresses(SpanExporter):
    """Passes spans on to another exporter without the addresses they were made for."""

    def __init__(self, exporter: SpanExporter):
        self.exporter = exporter

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        return self.exporter.export([without_addresses(span) for span in spans])

    def shutdown(self) -> None:
        self.exporter.shutdown()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return self.exporter.force_flush(timeout_millis)


def export_to(provider: TracerProvider, exporter: SpanExporter, batch: bool = True) -> None:
    """Send the provider's spans to an exporter, always without addresses."""
    safe = WithoutAddresses(exporter)
    provider.add_span_processor(BatchSpanProcessor(safe, schedule_delay_millis=500) if batch else SimpleSpanProcessor(safe))


class JsonLinesExporter(SpanExporter):
    """Writes each finished span as one JSON line."""

    def __init__(self, path: Path):
        path.parent.mkdir(parents=True, exist_ok=True)
        self.file = path.open("a", encoding="utf-8")

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        for span in spans:
            parent = span.parent.span_id if span.parent else None
            self.file.write(
                json.dumps(
                    {
                        "trace_id": f"{span.context.trace_id:032x}",
                        "span_id": f"{span.context.span_id:016x}",
                        "parent_id": f"{parent:016x}" if parent else None,
                        "name": span.name,
                        "service": span.resource.attributes.get("service.name"),
                        "start": span.start_time,
                        "end": span.end_time,
                        "attributes": {k: str(v) for k, v in (span.attributes or {}).items()},
                    }
                )
                + "\n"
            )
        self.file.flush()
        return SpanExportResult.SUCCESS

    def shutdown(self) -> None:
        self.file.close()


def configure_tracing(service: str) -> TracerProvider:
    provider = TracerProvider(resource=Resource.create({"service.name": f"pairing-{service}"}))
    if os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT"):
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        export_to(provider, OTLPSpanExporter())
    if path := os.environ.get("TRACES_FILE"):
        export_to(provider, JsonLinesExporter(Path(path)))
    trace.set_tracer_provider(provider)
    return provider


def trace_headers() -> dict[str, str]:
    """The current trace context (W3C traceparent), to travel with an event written now."""
    carrier: dict[str, str] = {}
    propagate.inject(carrier)
    return carrier


def mark_correlation(correlation_id: str | None) -> None:
    if correlation_id:
        trace.get_current_span().set_attribute(CORRELATION, correlation_id)


def spans_of(correlation_id: str, folder: Path) -> list[dict[str, Any]]:
    """Every span of every trace that touched this round (or leader), oldest first."""
    spans = []
    for file in sorted(folder.glob("traces-*.jsonl")):
        for line in file.read_text(errors="replace").splitlines():
            try:
                spans.append(json.loads(line))
            except ValueError:
                continue  # a line cut short by a crash
    traces = {s["trace_id"] for s in spans if s["attributes"].get(CORRELATION) == correlation_id}
    return sorted((s for s in spans if s["trace_id"] in traces), key=lambda s: s["start"])
