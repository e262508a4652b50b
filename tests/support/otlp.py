"""A local OTLP/HTTP trace receiver: decodes the real protobuf payloads the SDK sends.

It keeps
every span of every ``POST /v1/traces`` (an ``ExportTraceServiceRequest``, gzip or not), with the
resource's attributes, decoded by opentelemetry-proto's generated classes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)

from tests.support.http_receiver import PostReceiver


@dataclass(frozen=True)
class ReceivedSpan:
    """One span as received: ids as lower-case hex, attributes and resource as plain dicts."""

    name: str
    trace_id: str
    span_id: str
    parent_span_id: str
    status_code: int  # 0 unset, 1 ok, 2 error (opentelemetry.proto.trace.v1.Status)
    attributes: dict[str, Any]
    resource: dict[str, Any]


def _attributes(key_values) -> dict[str, Any]:
    values = {}
    for kv in key_values:
        kind = kv.value.WhichOneof("value")
        values[kv.key] = getattr(kv.value, kind) if kind else None
    return values


class OtlpReceiver(PostReceiver):
    """Run with ``with OtlpReceiver() as receiver``; point OTEL_EXPORTER_OTLP_ENDPOINT at
    ``receiver.endpoint``; read ``receiver.spans``."""

    reply = ExportTraceServiceResponse().SerializeToString()
    reply_type = "application/x-protobuf"

    def __init__(self) -> None:
        super().__init__()
        self.spans: list[ReceivedSpan] = []
        self.paths: list[str] = []
        self.endpoint = f"http://127.0.0.1:{self.port}"

    def receive(self, path: str, body: bytes) -> None:
        self.paths.append(path)
        request = ExportTraceServiceRequest.FromString(body)
        for resource_spans in request.resource_spans:
            resource = _attributes(resource_spans.resource.attributes)
            for scope_spans in resource_spans.scope_spans:
                for span in scope_spans.spans:
                    self.spans.append(
                        ReceivedSpan(
                            name=span.name,
                            trace_id=span.trace_id.hex(),
                            span_id=span.span_id.hex(),
                            parent_span_id=span.parent_span_id.hex(),
                            status_code=span.status.code,
                            attributes=_attributes(span.attributes),
                            resource=resource,
                        )
                    )

    def named(self, name: str) -> list[ReceivedSpan]:
        return [span for span in self.spans if span.name == name]
