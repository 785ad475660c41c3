"""CSV: RFC 4180, unformatted numbers, exact money, formula injection neutralized, pandas round trip."""

from __future__ import annotations

import io
from datetime import UTC, datetime
from decimal import Decimal

import pandas as pd

from helicarrier.money import usd_text
from helicarrier.reports.csv import write_csv


def test_rfc4180_quoting_and_crlf():
    fh = io.StringIO(newline="")
    write_csv([{"a": 'say "hi", then\nleave', "b": 1}], fh)
    assert fh.getvalue() == 'a,b\r\n"say ""hi"", then\nleave",1\r\n'


def test_numbers_unformatted_and_money_exact():
    fh = io.StringIO(newline="")
    write_csv([{"tokens": 1234567, "rate": 0.1, "cost_nanos": 12_345_678_901, "tiny_nanos": 150}], fh)
    assert fh.getvalue().splitlines() == [
        "tokens,rate,cost_nanos,cost_usd,tiny_nanos,tiny_usd",
        "1234567,0.1,12345678901,12.345678901,150,0.00000015",
    ]
    assert usd_text(-5_000_000_000) == "-5"
    assert usd_text(0) == "0"


def test_formula_injection_neutralized_in_text_not_in_numbers():
    rows = [
        {"v": '=HYPERLINK("http://x")'},
        {"v": "+1"},
        {"v": "-2+3"},
        {"v": "@SUM(A1)"},
        {"v": "\tx"},
        {"v": "\rx"},
        {"v": -5},
        {"v": Decimal("-1.5")},
        {"v": "plain"},
    ]
    fh = io.StringIO(newline="")
    write_csv(rows, fh)
    text = fh.getvalue()
    back = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False)["v"].tolist()
    assert back == [
        '\'=HYPERLINK("http://x")',
        "'+1",
        "'-2+3",
        "'@SUM(A1)",
        "'\tx",
        "'\rx",
        "-5",
        "-1.5",
        "plain",
    ]


def test_explicit_header_form_writes_values_as_given():
    fh = io.StringIO(newline="")
    n = write_csv(fh, ["id", "cost_nanos", "when"], [["=x", 5, datetime(2026, 1, 2, 3, tzinfo=UTC)]])
    assert n == 1
    assert fh.getvalue() == "id,cost_nanos,when\r\n'=x,5,2026-01-02T03:00:00+00:00\r\n"


def test_frame_round_trips_through_pandas():
    frame = pd.DataFrame(
        {
            "bucket": pd.to_datetime(["2026-11-01", "2026-11-02"]).tz_localize("America/New_York"),
            "group": ["gpt-4.1", "-weird"],
            "cost_nanos": [1_000_000_001, 0],
            "input_tokens": [10, 20],
        }
    )
    fh = io.StringIO(newline="")
    write_csv(frame, fh)
    back = pd.read_csv(io.StringIO(fh.getvalue()), dtype={"cost_usd": str})
    assert list(back.columns) == ["bucket", "group", "cost_nanos", "cost_usd", "input_tokens"]
    assert back["cost_nanos"].tolist() == [1_000_000_001, 0]
    assert back["cost_usd"].tolist() == ["1.000000001", "0"]
    assert back["input_tokens"].tolist() == [10, 20]
    assert back["group"].tolist() == ["gpt-4.1", "'-weird"]
    # 1 Nov 2026 is EDT (-04:00) and 2 Nov EST (-05:00): the offsets are kept, the instants round-trip.
    assert back["bucket"].tolist() == ["2026-11-01T00:00:00-04:00", "2026-11-02T00:00:00-05:00"]
    assert pd.to_datetime(back["bucket"], utc=True).tolist() == frame["bucket"].dt.tz_convert("UTC").tolist()


def test_missing_values_are_empty_fields():
    frame = pd.DataFrame({"cost_nanos": [1, None], "x": [None, float("nan")]})
    fh = io.StringIO(newline="")
    write_csv(frame, fh)
    assert fh.getvalue().splitlines() == ["cost_nanos,cost_usd,x", "1,0.000000001,", ",,"]
