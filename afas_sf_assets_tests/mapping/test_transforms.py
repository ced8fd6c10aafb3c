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


def test_call_runs_a_users_function_with_the_row_and_arguments() -> None:
    row = {"ItemGroup": "JAS", "ItemCode": "A1"}
    named = {"function": "afas_sf_assets_tests.mapping.user_transforms.shelf_code", "args": {"prefix": "R"}}
    assert TRANSFORMS["call"]("A1", row, named) == "R-JAS-A1"
    assert TRANSFORMS["call"]("A1", row, "afas_sf_assets_tests.mapping.user_transforms.shelf_code") == "S-JAS-A1"


def test_what_a_users_function_raises_fails_the_value_with_its_name_and_message() -> None:
    with pytest.raises(TransformError) as caught:
        TRANSFORMS["call"]("X9", {}, "afas_sf_assets_tests.mapping.user_transforms.refuses_x")
    assert str(caught.value) == (
        "afas_sf_assets_tests.mapping.user_transforms.refuses_x raised LookupError: no shelf for X9"
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ("no_such_package.module.f", "cannot import no_such_package.module"),
        ("afas_sf_assets_tests.mapping.user_transforms.missing", "user_transforms has no missing"),
        ("afas_sf_assets_tests.mapping.user_transforms.NOT_A_FUNCTION", "NOT_A_FUNCTION is not a function"),
        ("shelf_code", "give the function as package.module.function"),
        ({"fn": "x.y"}, "call takes `package.module.function`"),
    ],
)
def test_a_function_that_cannot_be_found_is_named(args: Any, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        TRANSFORMS["call"]("A1", {}, args)
