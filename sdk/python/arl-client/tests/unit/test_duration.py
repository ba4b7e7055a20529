import pytest

from arl_client.duration import format_duration, parse_duration, to_duration_string, to_seconds


@pytest.mark.parametrize("text,seconds", [
    ("30s", 30), ("2m", 120), ("1h30m", 5400), ("500ms", 0.5), ("1.5s", 1.5), ("1m30s", 90), ("0.25s", 0.25),
])
def test_parse_duration_accepts_crd_syntax(text, seconds):
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["", "30", "s", "-5s", "5 s", "1d", "5sec", "1h 2m", "m5", "1.s"])
def test_parse_duration_refuses_other_forms(text):
    with pytest.raises(ValueError) as ei:
        parse_duration(text)
    assert str(ei.value) == f'invalid duration "{text}" (use e.g. 30s, 2m, 1h30m, 500ms)'


def test_zero_duration_is_refused_as_the_cli_does():
    with pytest.raises(ValueError, match='duration "0s" must be greater than zero'):
        parse_duration("0s")


def test_format_duration_prefers_whole_seconds():
    assert format_duration(30) == "30s"
    assert format_duration(0.25) == "250ms"
    with pytest.raises(ValueError, match="must be greater than zero"):
        format_duration(-1)


def test_to_seconds_and_to_duration_string_take_numbers_or_strings():
    assert to_seconds(5) == 5.0
    assert to_seconds("2m") == 120.0
    assert to_duration_string(45) == "45s"
    assert to_duration_string("1h") == "1h"
    with pytest.raises(ValueError):
        to_seconds(True)
    with pytest.raises(ValueError):
        to_duration_string("forever")
