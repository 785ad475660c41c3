"""The token counts are named once (``helicarrier.usage_fields``): every table, rollup, report and API
answer that carries a model call's tokens carries exactly those."""

from __future__ import annotations

import pytest

from helicarrier.analytics import schemas
from helicarrier.data import models
from helicarrier.data.queries.analytics import USAGE_REPORT_COLUMNS
from helicarrier.data.queries.ingest import USAGE_ROW_COLUMNS
from helicarrier.data.rollups import USAGE_SUMS
from helicarrier.usage_fields import TOKEN_FIELDS


@pytest.mark.parametrize(
    "table",
    [
        models.UsageEvent,
        models.Session,
        models.UsageRollup,
        models.UsageAgentRollup,
        models.UsageAgentDayRollup,
        models.UsageModelRollup,
    ],
)
def test_tables_keep_every_token_count(table):
    assert set(TOKEN_FIELDS) <= set(table.__table__.columns.keys())


@pytest.mark.parametrize(
    "model", [schemas.SessionOut, schemas.UsageEventOut, schemas.UsageTotalsOut, schemas.UsagePointOut]
)
def test_api_answers_carry_every_token_count(model):
    assert set(TOKEN_FIELDS) <= set(model.model_fields)


@pytest.mark.parametrize("columns", [USAGE_SUMS, USAGE_ROW_COLUMNS, USAGE_REPORT_COLUMNS])
def test_rollups_rows_and_reports_derive_from_the_list(columns):
    found = [c for c in columns if c.endswith("_tokens") and c != "total_tokens"]
    assert tuple(found) == TOKEN_FIELDS
