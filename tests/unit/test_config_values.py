"""Config value readers and the YAML source: percentages, durations, odds, ${VAR}, scalars."""

from __future__ import annotations

import math

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from arbwatch.config import values
from arbwatch.config.values import InvalidValueError
from arbwatch.config.yamlsource import MapValue, Problems, ScalarValue, Value, read_yaml, substitute
from arbwatch.spelling import did_you_mean


def read(yaml_value: str, env: dict[str, str] | None = None) -> Value:
    """The value of ``v: <yaml_value>``, as the loader sees it."""
    problems = Problems("t.yaml")
    root = read_yaml(f"v: {yaml_value}\n", env or {}, problems)
    assert problems.messages() == []
    assert isinstance(root, MapValue)
    return root.entries["v"]


@pytest.mark.parametrize(
    ("written", "data"),
    [
        ("true", True),
        ("False", False),
        ("yes", "yes"),
        ("no", "no"),
        ("on", "on"),
        ("23:00", "23:00"),
        ("2024-01-01", "2024-01-01"),
        ("+400", 400),
        ("0x1F", 31),
        ("007", "007"),
        ("1_000", "1_000"),
        ("1.5e3", 1500.0),
        ("~", None),
        ("", None),
        ("'3'", "3"),
    ],
)
def test_scalars_follow_yaml_1_2(written: str, data: object) -> None:
    value = read(written)
    assert isinstance(value, ScalarValue)
    assert value.data == data
    assert type(value.data) is type(data)


def test_scalar_keeps_its_text() -> None:
    value = read("+400")
    assert isinstance(value, ScalarValue)
    assert (value.text, value.written) == ("+400", "+400")


def test_dot_inf_is_a_float() -> None:
    value = read(".inf")
    assert isinstance(value, ScalarValue)
    assert value.data == math.inf


@pytest.mark.parametrize(
    ("written", "fraction"),
    [("3%", 0.03), ("0.03", 0.03), ('"0.5%"', 0.005), ("0", 0.0), ("1", 1.0), ("100%", 1.0)],
)
def test_percentage(written: str, fraction: float) -> None:
    assert values.percentage(read(written)) == pytest.approx(fraction)


@pytest.mark.parametrize(
    ("written", "seconds"),
    [
        ("90s", 90.0),
        ("10m", 600.0),
        ("2h", 7200.0),
        ("1d", 86400.0),
        ("1h30m", 5400.0),
        ("1h 30m", 5400.0),
        ("1.5m", 90.0),
        ("45", 45.0),
        ('"45"', 45.0),
        ("0.25", 0.25),
    ],
)
def test_duration(written: str, seconds: float) -> None:
    assert values.duration(read(written)) == seconds


@pytest.mark.parametrize("written", ["30m1h", "1h1h", "10 minutes", "m", "nan", "true", "[1]"])
def test_duration_refused(written: str) -> None:
    with pytest.raises(InvalidValueError, match="expected a duration like 90s"):
        values.duration(read(written))


def test_duration_zero_where_it_makes_sense() -> None:
    assert values.duration(read("0"), positive=False) == 0.0
    with pytest.raises(InvalidValueError, match=r"expected a duration >= 0, got -1"):
        values.duration(read("-1"), positive=False)


@pytest.mark.parametrize(
    ("written", "decimal"),
    [("1.5", 1.5), ("+400", 5.0), ("-200", 1.5), ("11/10", 2.1), ("evens", 2.0), ("400.0", 400.0)],
)
def test_odds(written: str, decimal: float) -> None:
    assert values.odds(read(written)) == pytest.approx(decimal)


def test_odds_that_are_surely_not_what_they_seem_are_refused_as_on_the_command_line() -> None:
    # YAML reads 400 as a number; as odds it is American without its sign, as `calc` says.
    with pytest.raises(InvalidValueError) as caught:
        values.odds(read("400"))
    assert caught.value.why == (
        "400 looks like American odds; write +400 (or 400.0 if you mean decimal odds)"
    )
    with pytest.raises(InvalidValueError, match="beyond any bookmaker's"):
        values.odds(read("2000.0"))


@pytest.mark.parametrize("written", ["150%", "100%", "1"])
def test_a_threshold_of_100_percent_or_more_is_refused_with_a_reason(written: str) -> None:
    with pytest.raises(InvalidValueError) as caught:
        values.threshold(read(written))
    assert caught.value.why.startswith("expected a percentage below 100%, got ")
    assert caught.value.why.endswith(
        "(an arbitrage or an edge of 100% or more is a wrong price, never a bet)"
    )


def test_odds_reason_left_out_when_unreadable() -> None:
    with pytest.raises(InvalidValueError) as caught:
        values.odds(read("1/x"))
    assert caught.value.why == 'expected odds like 2.10, +110 or 11/10, got "1/x"'


def test_integer_without_bound() -> None:
    with pytest.raises(InvalidValueError) as caught:
        values.integer(read("true"))
    assert caught.value.why == "expected a whole number, got true"


def test_names_keep_order_and_drop_repeats() -> None:
    assert values.names(read("[b, ' a ', b]")) == ("b", "a")
    assert values.names(read("[]"), allow_empty=True) == ()


def test_describe() -> None:
    assert values.describe(read("{a: 1}")) == "a mapping"
    assert values.describe(read("")) == "nothing"
    assert values.describe(read("'it''s'")) == '"it\'s"'


def test_did_you_mean() -> None:
    assert did_you_mean("min_evv", ["min_ev", "max_ev"]) == "did you mean 'min_ev'?"
    assert did_you_mean("flush", ["flush_timeout", "queue_size"]) == (
        "did you mean 'flush_timeout'?"
    )
    assert did_you_mean("zzz", ["min_ev"]) == ""


# --- ${VAR} --------------------------------------------------------------------------------


def test_substitute() -> None:
    env = {"A": "x", "B_2": "y"}
    assert substitute("${A}-${B_2} $$5 $ and ${A}", env) == ("x-y $5 $ and x", [])
    assert substitute("${MISSING}${}", env) == (
        "",
        [
            "environment variable MISSING is not set",
            "${} is not a variable name (letters, digits and _)",
        ],
    )


def test_substituted_number_from_an_unquoted_reference() -> None:
    value = read("${N}", {"N": "1.5"})
    assert isinstance(value, ScalarValue)
    assert (value.data, value.written) == (1.5, "${N}")


def test_unset_reference_is_reported_once() -> None:
    problems = Problems("t.yaml")
    root = read_yaml("v: ${NOPE}\n", {}, problems)
    assert problems.messages() == ["t.yaml:1: v: environment variable NOPE is not set"]
    assert isinstance(root, MapValue)
    # Reading it again reports nothing more: it was flawed from the start.
    with pytest.raises(values.AlreadyReportedError):
        values.text(root.entries["v"])


@given(st.text())
def test_doubled_dollars_give_the_text_back(text: str) -> None:
    assert substitute(text.replace("$", "$$"), {}) == (text, [])


@given(st.text().filter(lambda text: "$" not in text))
def test_text_without_dollars_is_unchanged(text: str) -> None:
    assert substitute(text, {"A": "x"}) == (text, [])


@given(st.integers(0, 9), st.integers(0, 23), st.integers(0, 59), st.integers(0, 59))
def test_duration_units_add_up(days: int, hours: int, minutes: int, seconds: int) -> None:
    written = f"{days}d{hours}h{minutes}m{seconds}s"
    expected = days * 86400 + hours * 3600 + minutes * 60 + seconds
    assume(expected > 0)
    assert values.duration(read(written)) == expected


@given(st.integers(0, 10_000))
def test_percent_text_is_a_hundredth(basis_points: int) -> None:
    written = f"{basis_points / 100}%"
    assert values.percentage(read(written)) == pytest.approx(basis_points / 10_000)
