from typing import Any

import pytest

from afas_sf_assets.mapping.transforms import TRANSFORMS, TransformError

ROW = {"PriceInclVat": True, "VatPercentage": 21.0, "Excl": False}


@pytest.mark.parametrize(
    ("name", "value", "args", "expected"),
    [
        ("trim", "  Jas  ", None, "Jas"),
        ("upper", "nl", None, "NL"),
        ("lower", "Info@X.NL", None, "info@x.nl"),
        ("title", "de vries", None, "De Vries"),
        ("empty_to_null", "", None, None),
        ("concat", ["Kerkstraat", 12, None, "A"], {"separator": " "}, "Kerkstraat 12 A"),
        ("concat", [None, ""], None, None),
        ("number", "12,50", None, 12.5),  # Dutch decimal comma
        ("number", 1.23456, {"decimals": 2}, 1.23),
        ("number", 2.675, {"decimals": 2}, 2.68),  # half up, not banker's rounding
        ("number", None, None, None),
        ("currency", "19.999", None, 20.0),
        ("vat", 121.0, {"to": "excl", "incl_field": "PriceInclVat", "rate_field": "VatPercentage"}, 100.0),
        ("vat", 100.0, {"to": "incl", "from": "excl", "rate": 9}, 109.0),
        ("vat", 100.0, {"to": "excl", "incl_field": "Excl"}, 100.0),  # already excl.: unchanged
        ("not", True, None, False),
        ("not", "0", None, True),
        ("bool", "ja", None, True),
        ("date", "2024-07-01T00:00:00Z", None, "2024-07-01"),
        ("datetime", "2024-07-01T12:00:00Z", None, "2024-07-01T12:00:00+02:00"),  # Amsterdam summer time
        ("country_iso", "B", None, "BE"),  # AFAS land codes are not all ISO
        ("country_iso", "nl", None, "NL"),
        ("country_iso", "USA", None, "US"),
        ("truncate", "abcdef", 3, "abc"),
        ("default", None, "Each", "Each"),
        ("default", "Box", "Each", "Box"),
        ("text", 12, None, "12"),
    ],
)
def test_transform_table(name: str, value: Any, args: Any, expected: Any) -> None:
    assert TRANSFORMS[name](value, ROW, args) == expected


@pytest.mark.parametrize(
    ("name", "value"),
    [("number", "abc"), ("number", "NaN"), ("bool", "misschien"), ("date", "yesterday"), ("country_iso", "Atlantis")],
)
def test_bad_values_raise_a_transform_error(name: str, value: Any) -> None:
    with pytest.raises(TransformError, match=repr(value).strip("'")[:3]):
        TRANSFORMS[name](value, ROW, None)
