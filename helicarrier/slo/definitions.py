"""The SLOs, from settings. A target is an integer in parts per million (99.9% is 999_000), so budgets and
burn rates are exact fractions, never a float's 0.1 + 0.2."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

PPM = 1_000_000

# SLI names as stored in sli_rollups.sli (bounded: the code's own words).
INGEST_AVAILABILITY = "ingest_availability"
INGEST_LATENCY = "ingest_latency"
ALERT_LAG = "alert_lag"
COMMAND_DELIVERY = "command_delivery"
PULSE_FRESHNESS = "pulse_freshness"
SLI_NAMES = (INGEST_AVAILABILITY, INGEST_LATENCY, ALERT_LAG, PULSE_FRESHNESS, COMMAND_DELIVERY)


@dataclass(frozen=True)
class Slo:
    name: str  # the SLI's name, the key of its rollups
    title: str
    target_ppm: int  # good events per million that the SLO promises
    threshold_ms: int | None  # a timeliness SLI: an event slower than this is bad
    good_means: str  # one line a reader of the Operations page or the API understands
    recorded: bool = True  # False: defined, but nothing records its events yet

    @property
    def target_percent(self) -> str:
        """99.9 as the text "99.9" (exact)."""
        return format((Decimal(self.target_ppm) / 10_000).normalize(), "f")


def percent_ppm(text: str) -> int:
    """ "99.9" -> 999_000. Strictly between 0 and 100 and a whole number of parts per million."""
    try:
        value = Decimal(text.strip()) * 10_000
    except InvalidOperation:
        raise ValueError("a percentage such as 99.9") from None
    if value != value.to_integral_value() or not 0 < value < PPM:
        raise ValueError("a percentage above 0 and below 100, at most 4 decimals")
    return int(value)


def slos(
    *,
    availability_ppm: int,
    latency_ppm: int,
    latency_ms: int,
    timeliness_ppm: int,
    alert_lag_s: int,
    pulse_freshness_s: int,
    command_delivery_s: int,
) -> tuple[Slo, ...]:
    """The five SLOs of the issue, in the order the Operations page lists them."""
    return (
        Slo(INGEST_AVAILABILITY, "Ingest availability", availability_ppm, None, "ingest answers non-5xx"),
        Slo(
            INGEST_LATENCY,
            "Ingest latency",
            latency_ppm,
            latency_ms,
            f"ingest answers within {latency_ms} ms",
        ),
        Slo(
            ALERT_LAG,
            "Alert evaluation lag",
            timeliness_ppm,
            alert_lag_s * 1000,
            f"an alert evaluation cycle starts within {alert_lag_s} s of the previous one",
        ),
        Slo(
            PULSE_FRESHNESS,
            "Pulse freshness",
            timeliness_ppm,
            pulse_freshness_s * 1000,
            f"a log line reaches an open Pulse within {pulse_freshness_s} s of its arrival",
        ),
        Slo(
            COMMAND_DELIVERY,
            "Command delivery",
            timeliness_ppm,
            command_delivery_s * 1000,
            f"a command reaches its agent within {command_delivery_s} s of being issued",
        ),
    )


def from_settings(settings) -> tuple[Slo, ...]:
    """The SLOs a running app promises (``helicarrier.config.Settings``)."""
    return slos(
        availability_ppm=settings.slo_ingest_availability_ppm,
        latency_ppm=settings.slo_ingest_latency_ppm,
        latency_ms=settings.slo_ingest_latency_ms,
        timeliness_ppm=settings.slo_timeliness_ppm,
        alert_lag_s=settings.slo_alert_lag_s,
        pulse_freshness_s=settings.slo_pulse_freshness_s,
        command_delivery_s=settings.slo_command_delivery_s,
    )
