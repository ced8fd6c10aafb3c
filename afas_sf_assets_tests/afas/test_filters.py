import json
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from afas_sf_assets.afas.dates import AMSTERDAM, format_filter_datetime, parse_afas_datetime
from afas_sf_assets.afas.filters import Condition, Operator, Where, after_key, format_value


def test_and_within_a_group_or_between_groups() -> None:
    where = Where.all(Condition("A", Operator.EQ, "x"), Condition("B", Operator.GT, 3)).or_(
        Where.all(Condition("C", Operator.EMPTY))
    )
    assert where.to_params() == {
        "filterfieldids": "A,B;C",
        "filtervalues": "x,3;",  # EMPTY still sends a (blank) value
        "operatortypes": "1,4;8",
    }


def test_and_of_two_ors_distributes() -> None:
    left = Where.any_of("A", ["1", "2"])
    right = Where.any_of("B", ["x", "y"])
    combined = left.and_(right)
    assert len(combined.groups) == 4
    assert combined.to_params()["filterfieldids"] == "A,B;A,B;A,B;A,B"


@pytest.mark.parametrize("value", ["Jansen, Piet", "a;b"])
def test_separator_in_a_value_switches_to_filterjson(value: str) -> None:
    where = Where.all(Condition("Name", Operator.EQ, value), Condition("Blocked", Operator.EQ, False))
    params = where.to_params()
    assert set(params) == {"filterjson"}
    document = json.loads(params["filterjson"])
    fields = document["Filters"]["Filter"][0]["Field"]
    assert fields[0] == {"@FieldId": "Name", "@OperatorType": "1", "#text": value}
    assert fields[1]["#text"] == "false"


def test_empty_where_sends_nothing() -> None:
    assert Where().to_params() == {}
    assert Where.all().is_empty


@pytest.mark.parametrize(
    ("value", "wire"),
    [
        (None, ""),
        (True, "true"),
        (12, "12"),
        (Decimal("12.50"), "12.50"),
        (1e-7, "0.0000001"),  # never exponent notation
        (date(2024, 1, 31), "2024-01-31T00:00:00"),
        (datetime(2024, 1, 31, 16, 0, 0), "2024-01-31T16:00:00"),  # naive: already AFAS local time
        (datetime(2024, 1, 31, 15, 0, 0, tzinfo=UTC), "2024-01-31T16:00:00"),  # winter: UTC+1
        (datetime(2024, 7, 1, 10, 0, 0, 999_000, tzinfo=UTC), "2024-07-01T12:00:00"),  # summer: UTC+2, no fraction
    ],
)
def test_filter_values(value: object, wire: str) -> None:
    assert format_value(value) == wire  # type: ignore[arg-type]
    assert not wire.endswith("Z")


def test_row_dates_are_amsterdam_time_despite_the_z() -> None:
    parsed = parse_afas_datetime("2024-07-01T12:00:00Z")
    assert parsed.tzinfo == AMSTERDAM
    assert parsed.astimezone(UTC) == datetime(2024, 7, 1, 10, 0, tzinfo=UTC)
    assert parse_afas_datetime("2024-07-01T12:00:00.123Z").microsecond == 123_000
    assert format_filter_datetime(parsed) == "2024-07-01T12:00:00"


def test_keyset_for_a_composite_key() -> None:
    where = after_key(["ItemCode", "Warehouse"], ["ART-1", "HOOFD"])
    assert where.to_params() == {
        "filterfieldids": "ItemCode;ItemCode,Warehouse",
        "filtervalues": "ART-1;ART-1,HOOFD",
        "operatortypes": "4;1,4",
    }
