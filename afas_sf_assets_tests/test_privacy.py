"""Masking catches every e-mail-like and phone-like value, in any script, and leaves the rest readable."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from afas_sf_assets.privacy import mask

# Letters of any script (IDN and local parts like jörg or 山田), digits, and what addresses contain.
_LOCAL = st.text(
    alphabet=st.one_of(st.characters(categories=("Ll", "Lu", "Lo", "Nd")), st.sampled_from("._%+-")),
    min_size=1,
    max_size=20,
).filter(lambda s: s[0].isalnum())
_LABEL = st.text(alphabet=st.characters(categories=("Ll", "Lu", "Lo", "Nd")), min_size=1, max_size=12)
_DOMAIN = st.one_of(
    _LABEL,  # local-only: piet@localhost
    st.builds(lambda a, b: f"{a}.{b}", _LABEL, st.text(alphabet="abcdefghijklmnopqrstuvwxyz", min_size=2, max_size=6)),
    st.builds(lambda a, b, c: f"{a}.{b}.{c}", _LABEL, _LABEL, _LABEL),
)
_AROUND = st.sampled_from(["", "refused: ", "Email: invalid email address: ", "(", "<", "'", '"', "value "])
_AFTER = st.sampled_from(["", ".", ")", ">", "'", '"', ", and more", " is taken"])


@given(_LOCAL, _DOMAIN, _AROUND, _AFTER)
def test_every_email_like_value_is_masked(local: str, domain: str, before: str, after: str) -> None:
    address = f"{local}@{domain}"
    masked = mask(f"{before}{address}{after}") or ""
    assert address not in masked
    assert masked.startswith(before) and masked.endswith(after)
    shown = masked[len(before) : len(masked) - len(after)]
    assert shown.startswith(local[0] + "***@"), shown


_SEPARATOR = st.sampled_from(["", " ", "-", ".", "/"])


@st.composite
def phone_numbers(draw: st.DrawFn) -> str:
    prefix = draw(st.sampled_from(["0", "+31 ", "+31", "0031 ", "(020) ", "+49 (0)", "06-"]))
    groups = draw(st.lists(st.text(alphabet="0123456789", min_size=2, max_size=4), min_size=3, max_size=5))
    separator = draw(_SEPARATOR)
    number = prefix + separator.join(groups)
    return number if sum(c.isdigit() for c in number) >= 9 else number + "1234"


@given(phone_numbers(), _AROUND, st.sampled_from(["", ".", ")", " is refused", ", mobile"]))
def test_every_phone_like_value_is_masked(number: str, before: str, after: str) -> None:
    masked = mask(f"{before}{number}{after}") or ""
    digits = "".join(c for c in number if c.isdigit())
    assert digits[-6:] not in "".join(c for c in masked if c.isdigit())


@given(st.dates())
def test_dates_and_short_codes_stay_readable(day: object) -> None:
    text = f"EffectiveDate: {day} lies outside; debtor 10001, order 50004, item ART-000001"
    assert mask(text) == text


def test_known_examples() -> None:
    assert mask("piet@localhost refused") == "p***@l*** refused"
    assert mask("jörg@bäckerei.de.") == "j***@b***.de."
    assert mask("call +31 6 1234 5678 now") == "call *** now"
    assert mask(None) is None
