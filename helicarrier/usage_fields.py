"""The token counts of a model call, named once. The usage and session tables, the rollups, the ingest fold,
the CSV reports and the API's answers carry exactly these (a test holds each of them to this list).

``reasoning_tokens`` is part of ``output_tokens`` and may be unknown (None) on a usage event; everywhere it
is summed, unknown counts as 0. ``total_tokens`` is ``input_tokens + output_tokens``.
"""

from __future__ import annotations

TOKEN_FIELDS = (
    "input_tokens",
    "output_tokens",
    "cache_read_tokens",
    "cache_write_tokens",
    "reasoning_tokens",
)
