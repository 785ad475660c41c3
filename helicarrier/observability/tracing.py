"""OpenTelemetry spans of Helicarrier's own work: each API request (a SERVER span continuing the caller's W3C
``traceparent``), the ingest steps, the analytics queries, the alert cycle and its rules, control commands.

Off unless the standard ``OTEL_*`` variables ask for an exporter (``setup``): no provider, no background
thread, and ``span()`` hands back one shared do-nothing context manager, so the ingest path pays a function
call and a ``None`` check per step. On, spans go to the exporters named by ``OTEL_TRACES_EXPORTER``
(``otlp``, also chosen by ``OTEL_EXPORTER_OTLP_ENDPOINT`` / ``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT``; or
``console``) through a batch processor; the OTLP exporter reads its endpoint, headers and timeout from the
same variables. The provider is this module's own, not the global one: a test installs an in-memory exporter
(``use_exporter``) and takes it away again, which the global provider does not allow.

No Flask here (services and pure modules call ``span``): the request hooks are ``observability.web``.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager, nullcontext
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.propagate import extract
from opentelemetry.trace import SpanKind, Status, StatusCode

from helicarrier.errors import Refused

log = logging.getLogger("helicarrier.tracing")

SERVICE_NAME = "helicarrier"
EXPORTERS = ("otlp", "console", "none")
_OFF: AbstractContextManager[None] = nullcontext()
Attr = str | bool | int | float


class TracingConfigError(ValueError):
    """An ``OTEL_*`` variable asks for something this build cannot do; the message names it."""


class _State:
    tracer: trace.Tracer | None = None
    provider: Any = None  # the SDK's TracerProvider when on
    configured = False


_state = _State()


def exporter_names(environ: Mapping[str, str]) -> list[str]:
    """The exporters the environment asks for: ``OTEL_TRACES_EXPORTER`` (comma-separated), else ``otlp``
    when an OTLP endpoint is set, else none. Raises TracingConfigError for what is not installed."""
    if environ.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return []
    named = environ.get("OTEL_TRACES_EXPORTER", "").strip()
    if named:
        names = [n.strip().lower() for n in named.split(",") if n.strip()]
    elif environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") or environ.get("OTEL_EXPORTER_OTLP_ENDPOINT"):
        names = ["otlp"]
    else:
        names = []
    unknown = [n for n in names if n not in EXPORTERS]
    if unknown:
        raise TracingConfigError(
            f"OTEL_TRACES_EXPORTER={named!r}: unknown exporter {unknown[0]!r}; known: {', '.join(EXPORTERS)}"
        )
    names = [n for n in names if n != "none"]
    variable = next(
        (v for v in ("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "OTEL_EXPORTER_OTLP_PROTOCOL") if environ.get(v)),
        None,
    )
    if "otlp" in names and variable and environ[variable].strip() != "http/protobuf":
        # Only the OTLP/HTTP protobuf exporter is installed; sending it to a gRPC port would fail silently.
        raise TracingConfigError(f"{variable}={environ[variable]!r} is not supported; use http/protobuf")
    return names


def setup(environ: Mapping[str, str] | None = None) -> bool:
    """Tracing from the ``OTEL_*`` variables, once per process (later calls change nothing, so a test's
    in-memory exporter survives the apps it builds). Each gunicorn worker calls it after its fork (the app
    is built there: ``preload_app = False``). Returns whether spans are recorded."""
    if _state.configured:
        return _state.tracer is not None
    environ = os.environ if environ is None else environ
    names = exporter_names(environ)
    _state.configured = True
    if not names:
        return False
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    _install([BatchSpanProcessor(_exporter(name)) for name in names], environ)
    log.info("tracing on: exporting spans to %s", ", ".join(names))
    return True


def _exporter(name: str):
    if name == "console":
        from opentelemetry.sdk.trace.export import ConsoleSpanExporter

        return ConsoleSpanExporter()
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

    return OTLPSpanExporter()  # endpoint, headers, timeout, compression: from the OTEL_EXPORTER_OTLP_* vars


def _install(processors: list, environ: Mapping[str, str]) -> None:
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider

    # OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES win; "helicarrier" rather than "unknown_service".
    defaults = {} if environ.get("OTEL_SERVICE_NAME") else {"service.name": SERVICE_NAME}
    provider = TracerProvider(resource=Resource.create(defaults))  # sampler: OTEL_TRACES_SAMPLER
    for processor in processors:
        provider.add_span_processor(processor)
    shutdown()
    _state.provider = provider
    _state.tracer = provider.get_tracer("helicarrier")


def use_exporter(exporter) -> None:
    """Tests: record every span, synchronously, into ``exporter`` (an ``InMemorySpanExporter``)."""
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor

    _install([SimpleSpanProcessor(exporter)], {})
    _state.configured = True


def shutdown() -> None:
    """Flush and stop the exporters (a worker's exit); tracing is off afterwards."""
    provider, _state.provider, _state.tracer = _state.provider, None, None
    if provider is not None:
        provider.shutdown()


def enabled() -> bool:
    return _state.tracer is not None


def in_trace() -> bool:
    """A recorded span is current: work that only matters inside one (a database call) joins it."""
    return _state.tracer is not None and trace.get_current_span().is_recording()


def span(
    name: str, kind: SpanKind = SpanKind.INTERNAL, *, root: bool = False, **attributes: Attr | None
) -> AbstractContextManager:
    """``with span("ingest.price", pricing__version=v):`` a child of the current span (``a__b`` names the
    attribute ``a.b``); nothing at all when tracing is off. Outside any trace (an import on the command line,
    a service a test calls) a step makes no span either, since each would be a trace of its own; ``root``:
    this one starts a trace (the alert cycle). A ``Refused`` passing through is the client's error, noted as
    ``refused.code``; anything else marks the span failed with the exception."""
    if _state.tracer is None or not (root or trace.get_current_span().is_recording()):
        return _OFF
    return _recorded(_state.tracer, name, kind, attributes)


@contextmanager
def _recorded(
    tracer: trace.Tracer, name: str, kind: SpanKind, attributes: Mapping[str, Any]
) -> Iterator[Any]:
    attrs = {k.replace("__", "."): v for k, v in attributes.items() if v is not None}
    with tracer.start_as_current_span(
        name, kind=kind, attributes=attrs, record_exception=False, set_status_on_exception=False
    ) as current:
        try:
            yield current
        except Refused as refused:
            current.set_attribute("refused.code", refused.code)
            raise
        except BaseException as exc:
            fail(current, exc)
            raise


def fail(current: trace.Span, exc: BaseException) -> None:
    current.record_exception(exc)
    current.set_status(Status(StatusCode.ERROR, f"{type(exc).__name__}: {str(exc)[:200]}"))


def set_attributes(**attributes: Attr | None) -> None:
    """Attributes on the current span (``command__kind`` is ``command.kind``); nothing when off."""
    if _state.tracer is None:
        return
    current = trace.get_current_span()
    for key, value in attributes.items():
        if value is not None:
            current.set_attribute(key.replace("__", "."), value)


def record_error(exc: BaseException) -> None:
    """The current span failed with ``exc`` (an unexpected error a handler turned into a 500)."""
    if _state.tracer is not None:
        fail(trace.get_current_span(), exc)


# -- a request's span (observability.web calls these from Flask's hooks) -------------------------------------


def start_request(
    name: str, headers: Mapping[str, str], attributes: Mapping[str, Attr]
) -> tuple[Any, Any] | None:
    """Continue the caller's ``traceparent`` (W3C, by the SDK's propagator) in a SERVER span named ``name``,
    made current. Off, the caller's trace context alone is made current, so log lines still carry the
    caller's trace id. -> a handle for ``answered`` and ``finish_request`` (None: nothing to do)."""
    parent = extract(headers) if "traceparent" in headers else None
    if _state.tracer is None:
        return None if parent is None else (None, otel_context.attach(parent))
    server = _state.tracer.start_span(name, context=parent, kind=SpanKind.SERVER, attributes=attributes)
    return server, otel_context.attach(trace.set_span_in_context(server, parent))


def answered(handle: tuple[Any, Any], status: int) -> None:
    server, _token = handle
    if server is not None:
        server.set_attribute("http.response.status_code", status)
        if status >= 500:  # a 4xx is the client's error, not the server span's (OTel HTTP conventions)
            server.set_status(Status(StatusCode.ERROR))


def finish_request(handle: tuple[Any, Any]) -> None:
    server, token = handle
    if server is not None:
        server.end()
    if token is not None:
        otel_context.detach(token)
