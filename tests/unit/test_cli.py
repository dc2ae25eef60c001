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
        (["calc", "arb", "2.1", "2.1", "--bankroll", "-5"], "bankroll must be a positive"),
        (["calc", "arb", "2.1", "2.1", "--commission", "x"], "--commission takes LEG=RATE"),
        (["calc", "arb", "2.1", "2.1", "--commission", "3=0.02"], "names leg 3"),
        (["calc", "arb", "2.1", "2.1", "--bankroll", "lots"], "invalid float value: 'lots'"),
        (["calc", "ev", "--fair", "2.0", "2.0", "--price", "2.1", "--side", "3"], "--side"),
        (["calc", "ev", "--fair", "2.0", "--price", "2.1"], "--fair takes 2 or 3 prices"),
        (["calc", "ev", "--fair", "2.0", "2.0", "--price", "2.1", "--kelly", "2"], "Kelly"),
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
