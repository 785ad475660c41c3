"""The OTLP/HTTP receiver: OpenTelemetry traces, logs and metrics mapped into native ingest events."""
