"""OpenTelemetry: each call an ``execute_tool`` span, each legacy interaction a child span.

Spans follow the current semantic conventions: the GenAI ones for the tool call
(``gen_ai.operation.name``, ``gen_ai.tool.name``, ``gen_ai.tool.call.id``), and for each
interaction the ones of its protocol, which the adapter supplies (``db.*`` for ODBC,
``messaging.*`` for AMQP, ``rpc.*`` with HTTP client attributes for SOAP). The agent's W3C
``traceparent`` is the parent of the call's span, so the legacy interactions appear inside
the agent's own trace.

Spans are exported over OTLP/HTTP when ``OTEL_EXPORTER_OTLP_ENDPOINT`` (or
``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT``) is set, with the standard ``OTEL_*`` variables
(service name, headers). Without an endpoint no SDK is installed and spans cost nothing.
The audit log never depends on the exporter: a collector that is down loses spans, not
records.
"""

from __future__ import annotations

import os
import secrets
import time
from dataclasses import dataclass
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.trace import (
    NonRecordingSpan,
    Span,
    SpanContext,
    SpanKind,
    Status,
    StatusCode,
    TraceFlags,
)

from adapters.base import Adapter, Interaction

TRACER_NAME = "legacy_gateway"
_KINDS = {
    "client": SpanKind.CLIENT,
    "producer": SpanKind.PRODUCER,
    "consumer": SpanKind.CONSUMER,
    "internal": SpanKind.INTERNAL,
}
# The SDK provider this process installed, if any (OpenTelemetry allows one per process).
_installed: list[Any] = []
# A proxy: it follows the provider installed later, and getting a tracer per call would
# cost a lookup on every call.
_tracer = trace.get_tracer(TRACER_NAME)


def configure_from_environment() -> Any:
    """Install an SDK tracer provider exporting over OTLP, if an endpoint is configured.

    Returns the provider (to flush at shutdown), or None when tracing is off.
    """
    endpoint = os.environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") or os.environ.get(
        "OTEL_EXPORTER_OTLP_ENDPOINT"
    )
    if _installed or not endpoint:
        return _installed[0] if _installed else None
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    service = os.environ.get("OTEL_SERVICE_NAME", "legacy-gateway")
    provider = TracerProvider(resource=Resource.create({"service.name": service}))
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    trace.set_tracer_provider(provider)
    _installed.append(provider)
    return provider


def shutdown() -> None:
    """Flush what is buffered; spans of the last calls are not lost at a clean stop."""
    for provider in _installed:
        provider.force_flush()


def _remote_parent(trace_id: str, span_id: str | None) -> otel_context.Context | None:
    if not span_id:
        return None
    parent = SpanContext(
        int(trace_id, 16),
        int(span_id, 16),
        is_remote=True,
        trace_flags=TraceFlags(TraceFlags.SAMPLED),
    )
    return trace.set_span_in_context(NonRecordingSpan(parent))


@dataclass
class CallSpan:
    """The span of one tool call, and the ids its records carry."""

    span: Span
    trace_id: str
    span_id: str

    def interaction(self, adapter: Adapter[Any], interaction: Interaction) -> None:
        # A child of a span nobody records (tracing off, or the call not sampled) would not
        # be recorded either: its attributes are not worth making on every call.
        if self.span.is_recording():
            interaction_span(adapter, interaction, trace.set_span_in_context(self.span))

    def end(self, error_code: str | None = None, message: str = "") -> None:
        if error_code is not None:
            self.span.set_attribute("error.type", error_code)
            self.span.set_status(Status(StatusCode.ERROR, message))
        self.span.end()


def start_call(
    tool: str, call_id: str, trace_id: str, parent_span: str | None, attributes: dict[str, Any]
) -> CallSpan:
    """The ``execute_tool`` span of a call, child of the agent's span when it sent one."""
    span = _tracer.start_span(
        f"execute_tool {tool}",
        context=_remote_parent(trace_id, parent_span),
        kind=SpanKind.INTERNAL,
        attributes={
            "gen_ai.operation.name": "execute_tool",
            "gen_ai.tool.name": tool,
            "gen_ai.tool.call.id": call_id,
            "gen_ai.tool.type": "function",
            **attributes,
        },
    )
    context = span.get_span_context()
    if context.is_valid:
        return CallSpan(span, format(context.trace_id, "032x"), format(context.span_id, "016x"))
    # Tracing is off: the records still name a trace (the agent's, or a new one) and a span.
    return CallSpan(span, trace_id, secrets.token_hex(8))


def interaction_span(
    adapter: Adapter[Any], interaction: Interaction, parent: otel_context.Context | None
) -> None:
    """A finished legacy interaction as a span: it ends now and lasted its duration."""
    name, kind, attributes = adapter.telemetry(interaction)
    end = time.time_ns()
    start = end - int(interaction.duration_ms * 1_000_000)
    span = _tracer.start_span(
        name,
        context=parent,
        kind=_KINDS.get(kind, SpanKind.CLIENT),
        attributes={k: v for k, v in attributes.items() if v is not None},
        start_time=start,
    )
    if interaction.error:
        span.set_attribute("error.type", str(interaction.error.get("code", "error")))
        span.set_status(Status(StatusCode.ERROR, str(interaction.error.get("message", ""))))
    span.end(end_time=end)


def late_interaction(
    adapter: Adapter[Any], interaction: Interaction, trace_id: str | None, span_id: str | None
) -> None:
    """An interaction that came after its call ended (a reply), under the call's span."""
    if trace_id:
        interaction_span(adapter, interaction, _remote_parent(trace_id, span_id))
