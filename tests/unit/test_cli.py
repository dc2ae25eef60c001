"""`arbwatch calc`: answers a bettor can act on, and one-line errors for bad input."""

import subprocess
import sys

import pytest

from arbwatch.cli import EXIT_USAGE, main


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    status = main(list(argv))
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def test_arb_with_american_odds_and_rounding(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, err = _run(
        capsys, "calc", "arb", "+110", "-105", "--bankroll", "1000", "--round", "5"
    )
    assert status == 0
    assert err == ""
    # L = 1/2.10 + 1/(1 + 100/105) = 0.476190 + 0.512195 = 0.988386 -> profit 1.18%
    assert "ARBITRAGE: profit 1.18%" in out
    assert "leg 1: 481.79" in out
    assert "leg 2: 518.21" in out
    # 480 x 2.10 = 1008.00 and 515 x 1.952381 = 1005.48 -> 10.48 over the 995 staked
    assert "Rounded to 5.00: 480.00 / 515.00 (total 995.00)" in out
    assert "guaranteed profit after rounding 10.48" in out


def test_arb_reports_rounding_that_wipes_out_a_thin_arb(
    capsys: pytest.CaptureFixture[str],
) -> None:
    status, out, _ = _run(capsys, "calc", "arb", "2.02", "1.99", "--bankroll", "20", "--round", "5")
    assert status == 0
    assert "ARBITRAGE: profit 0.24%" in out
    # 10 on each: 10 x 1.99 = 19.90 back for 20 staked
    assert "no guaranteed profit after rounding" in out
    assert "19.90 for 20.00 staked (-0.10)" in out


def test_no_arb_says_the_margin_and_the_break_even_prices(
    capsys: pytest.CaptureFixture[str],
) -> None:
    status, out, _ = _run(capsys, "calc", "arb", "-110", "-110")
    assert status == 0
    assert "No arbitrage: the prices add up to 104.76%" in out
    # the other leg implies 52.38%, so this one needs 1/(1 - 0.5238) = 2.10 = +110
    assert "leg 1 would need better than +110" in out


def test_arb_three_way_fractional_and_commission(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = _run(capsys, "calc", "arb", "11/10", "evens", "5/1")
    assert status == 0
    assert "implied sum 114.29%" in out
    status, out, _ = _run(capsys, "calc", "arb", "2.1", "2.1", "--commission", "2=0.05")
    assert status == 0
    # 1 + 1.1 x 0.95 = 2.045
    assert "after 5.00% commission: 2.045" in out
    assert "ARBITRAGE: profit 3.61%" in out


def test_ev_against_a_shin_devigged_market(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = _run(
        capsys, "calc", "ev", "--fair", "-120", "+100", "--devig", "shin", "--price", "+115"
    )
    assert status == 0
    assert "devig shin" in out
    assert "outcome 1:     -120  fair 52.27%" in out
    assert "EV +12.39% per unit staked (+EV)" in out
    assert "x0.25 -> stake 26.93 of 1,000.00" in out


def test_ev_without_edge_and_with_an_inapplicable_method(
    capsys: pytest.CaptureFixture[str],
) -> None:
    status, out, _ = _run(
        capsys, "calc", "ev", "--fair", "1.9", "1.9", "--price", "1.95", "--side", "2"
    )
    assert status == 0
    assert "(no edge)" in out
    assert "Kelly says do not bet" in out
    status, out, _ = _run(
        capsys, "calc", "ev", "--fair", "2.1", "2.1", "--devig", "shin", "--price", "2.2"
    )
    assert status == 0
    assert "shin does not apply: the prices add up to less than 100%" in out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["calc", "arb", "+110", "abc"], "cannot read 'abc' as odds"),
        (["calc", "arb", "+50", "-105"], "American odds must be <= -100 or >= +100"),
        (["calc", "arb", "1.0", "3.0"], "decimal odds must be greater than 1.0"),
        (["calc", "arb", "2.1"], "calc arb takes 2 or 3 prices"),
        (["calc", "arb", "2.1", "2.1", "--bankroll", "-5"], "--bankroll: expected a number > 0"),
        (["calc", "arb", "2.1", "2.1", "--commission", "x"], "--commission takes LEG=RATE"),
        (["calc", "arb", "2.1", "2.1", "--commission", "3=0.02"], "names leg 3"),
        (["calc", "arb", "2.1", "2.1", "--bankroll", "lots"], 'expected a number > 0, got "lots"'),
        (["calc", "ev", "--fair", "2.0", "2.0", "--price", "2.1", "--side", "3"], "--side"),
        (["calc", "ev", "--fair", "2.0", "--price", "2.1"], "--fair takes 2 or 3 prices"),
        (["calc", "ev", "--fair", "2.0", "2.0", "--price", "2.1", "--kelly", "2"], "<= 1, got 2"),
        # Odds that cannot be what they seem.
        (["calc", "arb", "110", "-105"], "110 looks like American odds; write +110"),
        (["calc", "arb", "150", "-170"], "150 looks like American odds; write +150"),
        (["calc", "arb", "2.1", "-105"], "2.1 is decimal, -105 is American"),
        (["calc", "arb", "1500.0", "1.5"], "decimal odds of 1500.0 are beyond any bookmaker's"),
        (["calc", "arb", "2.5", "2.5", "--stake-round", "2000"], "more than the bankroll"),
        (["calc", "ev", "--fair", "2", "2", "--price", "3", "--stake-round", "1e9"], "round down"),
        (["calc", "ev", "--fair", "-110", "-110", "--price", "2.2"], "different formats"),
        # Numbers read as the config reads them, under the config's names and the old ones.
        (["calc", "arb", "2.1", "2.1", "--round", "-5"], "--stake-round/--round: expected a"),
        (["calc", "arb", "2.1", "2.1", "--stake-round", "nan"], "a number >= 0, got nan"),
        (["calc", "ev", "--fair", "2", "2", "--price", "2.1", "--stake-round", "-1"], ">= 0"),
        (["calc", "ev", "--fair", "2", "2", "--price", "2.1", "--kelly-fraction", "0"], "> 0"),
        (["calc", "ev", "--fair", "2", "2", "--price", "2.1", "--side", "0"], "--side"),
        (["calc", "arb", "2.1", "2.1", "--commission", "2=150%"], "a percentage below 100%"),
        (["replay", "x.jsonl", "--min-ev", "300"], "300, which is ambiguous: write 300% or 3"),
        (["replay", "x.jsonl", "--min-profit", "150%"], "a percentage below 100%"),
        (["replay", "x.jsonl", "--max-quote-age", "-5"], "a duration > 0, got -5"),
        (["replay", "x.jsonl", "--max-age", "soon"], "a duration like 90s"),
        (["replay", "x.jsonl", "--odds-format", "roman"], "invalid choice: 'roman'"),
        (["demo", "--seconds", "-5"], "--seconds: expected a duration > 0, got -5"),
        (["demo", "--seconds", "0"], "--seconds: expected a duration > 0, got 0"),
        (["demo", "--seconds", "inf"], "--seconds: expected a duration"),
        (["history", "--limit", "0"], "--limit: expected a whole number >= 1, got 0"),
        (["bench", "--events", "0"], "--events: expected a whole number >= 1, got 0"),
        (["bench", "--books", "1"], "--books: expected a whole number >= 2, got 1"),
        (["bench", "--events", "99999999999"], "a whole number from 1 to 50,000"),
        (["bench", "--events", "50000", "--books", "31"], "more than the 1,500,000 quotes"),
        (["bench", "--seed", "-1"], "--seed: expected a whole number >= 0"),
        ([], "required"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(
    capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    status, out, err = _run(capsys, *argv)
    assert status == EXIT_USAGE
    assert out == ""
    assert err.count("\n") == 1
    assert err.startswith("arbwatch: error: ")
    assert message in err


@pytest.mark.parametrize(
    ("argv", "answer"),
    [
        (["calc", "arb", "+110", "-105", "--stake-round", "5"], "Rounded to 5.00: 480.00"),
        (["calc", "arb", "110", "105", "--odds-format", "american"], "ARBITRAGE: profit 3.7"),
        (["calc", "arb", "110", "105", "--format", "american"], "ARBITRAGE: profit 3.7"),
        (["calc", "arb", "150.0", "1.01"], "implied sum 99.68%"),
        (["calc", "arb", "evens", "-110"], "1         +100"),
        (["calc", "arb", "2.1", "2.1", "--commission", "2=2%"], "after 2.00% commission: 2.078"),
        (
            ["calc", "ev", "--fair", "-120", "+100", "--price", "+115", "--kelly-fraction", "0.5"],
            "x0.5 -> stake",
        ),
    ],
)
def test_the_config_names_and_the_old_ones_are_both_taken(
    capsys: pytest.CaptureFixture[str], argv: list[str], answer: str
) -> None:
    status, out, err = _run(capsys, *argv)
    assert (status, err) == (0, "")
    assert answer in out


def test_ev_shows_the_decimal_beside_other_formats_only(
    capsys: pytest.CaptureFixture[str],
) -> None:
    _, out, _ = _run(capsys, "calc", "ev", "--fair", "1.9", "2.0", "--price", "2.1")
    # Decimal twice ("1.95 (1.950)") says nothing: once.
    assert "fair odds 1.95\n" in out
    assert "Bet outcome 1 at 2.10: EV" in out
    _, out, _ = _run(capsys, "calc", "ev", "--fair", "-120", "+100", "--price", "+115")
    assert "fair odds -109 (1.917)" in out
    assert "Bet outcome 1 at +115 (2.150): EV" in out


def test_module_entry_point_runs_without_traceback() -> None:
    completed = subprocess.run(
        [sys.executable, "-m", "arbwatch", "calc", "arb", "+110", "nonsense"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert completed.returncode == EXIT_USAGE
    assert "Traceback" not in completed.stderr
    assert completed.stderr.startswith("arbwatch: error: cannot read 'nonsense' as odds")


def test_an_error_quoting_a_url_never_shows_its_password(
    capsys: pytest.CaptureFixture[str],
) -> None:
    status, out, err = _run(capsys, "demo", "--status", "http://u:demo-pass-55@127.0.0.1:9464")
    assert (status, out) == (EXIT_USAGE, "")
    assert err == (
        "arbwatch: error: --status: expected host:port like 127.0.0.1:9464, "
        "got 'http://***@127.0.0.1:9464'\n"
    )
