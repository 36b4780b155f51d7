"""Tracing with OpenTelemetry, carried through Kafka headers, so one round can
be followed from the manager's request through the matcher to every message.

Spans go to an OTLP collector when OTEL_EXPORTER_OTLP_ENDPOINT is set, and to
a JSON-lines file when TRACES_FILE is set (`make run` writes
var/logs/traces-<service>.jsonl; `pairing trace ROUND_ID` prints a round's
spans from those files). Span attributes carry ids only, never personal data.
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
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult

CORRELATION = "pairing.correlation_id"


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

        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    if path := os.environ.get("TRACES_FILE"):
        provider.add_span_processor(BatchSpanProcessor(JsonLinesExporter(Path(path)), schedule_delay_millis=500))
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
