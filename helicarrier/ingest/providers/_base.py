"""Shared types and strict-but-lenient count coercion for the usage normalizers.

Hot path: called for every usage event, so plain dict access, no regex, and error
strings are only formatted when something is actually wrong.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any, NamedTuple

NO_USAGE_WARNING = "stream carried no usage"


class UsageError(ValueError):
    """A usage payload that cannot be normalized; ``field`` is a dotted path into the event."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


@dataclass(frozen=True, slots=True)
class NormalizedUsage:
    provider: str
    model: str | None
    input_tokens: int
    output_tokens: int
    cache_read_tokens: int
    cache_write_tokens: int
    cache_write_5m_tokens: int | None
    cache_write_1h_tokens: int | None
    reasoning_tokens: int | None
    total_tokens: int
    reported_total_tokens: int | None
    web_search_requests: int
    reported_cost_usd: Decimal | None
    price_context: dict[str, str]
    warnings: tuple[str, ...]


class Counts(NamedTuple):
    """What a provider-family parser extracts; the canonical record is built from it."""

    input_tokens: int
    output_tokens: int
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0
    cache_write_5m_tokens: int | None = None
    cache_write_1h_tokens: int | None = None
    reasoning_tokens: int | None = None
    reported_total_tokens: int | None = None
    web_search_requests: int = 0
    price_context: dict[str, str] | None = None
    warnings: tuple[str, ...] = ()


def _coerce(value: Any, field: str) -> int:
    """Slow path of :func:`count`: everything that is not a plain non-negative int."""
    kind = type(value)
    if kind is bool:
        raise UsageError(field, "expected a token count, got a boolean")
    if kind is int:
        if value < 0:
            raise UsageError(field, f"negative count {value}")
        return value
    if kind is float:
        if not value.is_integer():  # False for nan/inf too
            raise UsageError(field, f"non-integer count {value!r}")
        result = int(value)
    elif kind is str:
        text = value.strip()
        # OTLP/JSON sends int64 as decimal strings; accept exactly that.
        if text.isascii() and text.isdigit():
            if len(text) > 19:  # past any count (and int() refuses 4,300+ digits with a ValueError)
                raise UsageError(field, f"count {text[:20]}... has {len(text)} digits")
            return int(text)
        if text[:1] == "-" and text[1:].isascii() and text[1:].isdigit():
            raise UsageError(field, f"negative count {value!r}")
        raise UsageError(field, f"non-numeric count {value!r}")
    elif isinstance(value, Decimal):
        if not value.is_finite() or value != value.to_integral_value():
            raise UsageError(field, f"non-integer count {value!r}")
        result = int(value)
    elif isinstance(value, int):  # int subclasses other than bool (e.g. IntEnum, numpy ints register)
        result = int(value)
    else:
        raise UsageError(field, f"expected a token count, got {kind.__name__}")
    if result < 0:
        raise UsageError(field, f"negative count {value!r}")
    return result


def count(obj: dict[str, Any], key: str, path: str) -> int:
    """A count that defaults to 0 when absent or null."""
    value = obj.get(key)
    if type(value) is int and value >= 0:
        return value
    if value is None:
        return 0
    return _coerce(value, f"{path}.{key}")


def opt_count(obj: dict[str, Any], key: str, path: str) -> int | None:
    """A count where absent/null means "not reported" (kept as None)."""
    value = obj.get(key)
    if type(value) is int and value >= 0:
        return value
    if value is None:
        return None
    return _coerce(value, f"{path}.{key}")


def sub(obj: dict[str, Any], key: str, path: str) -> dict[str, Any] | None:
    """A nested object (``*_details``); null/absent -> None, any other non-object is an error."""
    value = obj.get(key)
    if value is None or type(value) is dict:
        return value
    if isinstance(value, dict):
        return value
    raise UsageError(f"{path}.{key}", f"expected an object, got {type(value).__name__}")


MAX_COST_CHARS = 64
MAX_COST_EXPONENT = 30


def parse_cost(value: Any) -> Decimal | None:
    """Client-reported cost in USD; parsed via str() so a float never leaks its binary error."""
    if value is None:
        return None
    if type(value) is bool:
        raise UsageError("cost", "expected a number, got a boolean")
    if isinstance(value, Decimal):
        result = value
    elif isinstance(value, (int, float, str)):
        text = str(value).strip()
        # A cost is a few digits: a longer text is no cost (and 10**400 or "1" * 5000 is not worth parsing).
        if len(text) > MAX_COST_CHARS:
            raise UsageError("cost", f"cost is longer than {MAX_COST_CHARS} characters")
        try:
            result = Decimal(text)
        except InvalidOperation:
            raise UsageError("cost", f"not a number: {value!r}") from None
    else:
        raise UsageError("cost", f"expected a number or string, got {type(value).__name__}")
    if not result.is_finite() or result < 0:
        raise UsageError("cost", f"cost must be a finite non-negative number, got {value!r}")
    # Decimal("1E+999999999") is exact but overflows the first multiplication; a real cost's exponent is
    # small, so refuse the absurd ones here rather than fail later.
    if not -MAX_COST_EXPONENT <= result.as_tuple().exponent <= MAX_COST_EXPONENT:
        raise UsageError("cost", f"cost exponent is outside ±{MAX_COST_EXPONENT}: {value!r}")
    return result


def build(
    provider: str,
    model: str | None,
    counts: Counts,
    cost: Decimal | None,
    extra_context: dict[str, str] | None = None,
    extra_warnings: tuple[str, ...] = (),
    web_search_requests: int = 0,
) -> NormalizedUsage:
    """Assemble the canonical record and run the consistency checks every record gets."""
    inp = counts.input_tokens
    out = counts.output_tokens
    total = inp + out
    warnings = counts.warnings + extra_warnings if extra_warnings else counts.warnings
    reported = counts.reported_total_tokens
    if reported is not None and reported != total:
        warnings = (
            *warnings,
            f"total mismatch: provider reported {reported}, normalized input+output {total}",
        )
    if counts.cache_read_tokens + counts.cache_write_tokens > inp:
        warnings = (*warnings, "cache read+write tokens exceed input tokens")
    reasoning = counts.reasoning_tokens
    if reasoning is not None and reasoning > out:
        warnings = (*warnings, "reasoning tokens exceed output tokens")
    ctx = counts.price_context
    if extra_context:
        ctx = {**ctx, **extra_context} if ctx else dict(extra_context)
    return NormalizedUsage(
        provider,
        model,
        inp,
        out,
        counts.cache_read_tokens,
        counts.cache_write_tokens,
        counts.cache_write_5m_tokens,
        counts.cache_write_1h_tokens,
        reasoning,
        total,
        reported,
        counts.web_search_requests + web_search_requests,
        cost,
        ctx if ctx is not None else {},
        warnings,
    )
