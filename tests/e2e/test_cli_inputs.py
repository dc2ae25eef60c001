"""Every subcommand given bad input: one clear line and the agreed exit status, never a traceback.

Files that are not what they should be (missing, empty, a directory, binary, not YAML) and
numbers that are not (negative, zero, nan, huge) go to every command that takes them. Most
run in-process through `arbwatch.cli.main`, where an escaped exception fails the test just
as a traceback would; the three tracebacks of issue 16 run as processes, the way a user met
them: ``replay`` on a binary file, ``bench --events 0`` and ``arbwatch demo | head -3``.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from arbwatch.cli import EXIT_USAGE, main
from arbwatch.commands import EXIT_CONFIG
from arbwatch.pipes import EXIT_BROKEN_PIPE

#: Seconds a command given as a process may take; the demo's first alert comes in ~3 s.
PROCESS_TIMEOUT = 60.0


@pytest.fixture
def files(tmp_path: Path) -> Path:
    """A directory of files that are not what a command wants, named by what they are."""
    # A PNG's signature: not UTF-8 from its first byte.
    (tmp_path / "binary").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4)
    (tmp_path / "empty").write_bytes(b"")
    (tmp_path / "a-directory").mkdir()
    (tmp_path / "not-yaml").write_text("feeds: [\n", encoding="utf-8")
    (tmp_path / "not-json").write_text("this is not a recording\n", encoding="utf-8")
    return tmp_path


#: argv (``{dir}`` is the files' directory) -> exit status and a piece of the one line said.
CASES = [
    # Recordings that are not.
    (["replay", "{dir}/binary"], EXIT_USAGE, "binary:1: not UTF-8 text, so not a recording"),
    (["replay", "{dir}/missing"], EXIT_USAGE, "missing: cannot open: No such file"),
    (["replay", "{dir}/a-directory"], EXIT_USAGE, "a-directory: no recordings in it"),
    (["replay", "/dev/zero"], EXIT_USAGE, "/dev/zero: not a regular file"),
    (["replay", "{dir}/not-json"], EXIT_USAGE, "not-json:1: not a recorded frame"),
    # Configs that are not: 78 from every command that reads one.
    (["check-config", "{dir}/missing"], EXIT_CONFIG, "missing: cannot read the file"),
    (["check-config", "{dir}/binary"], EXIT_CONFIG, "binary:1: the file is not UTF-8 text"),
    (["check-config", "-c", "{dir}/empty"], EXIT_CONFIG, "empty: the file is empty; a config"),
    (["show-config", "{dir}/a-directory"], EXIT_CONFIG, "a-directory: not a regular file"),
    (["show-config", "-c", "{dir}/not-yaml"], EXIT_CONFIG, "not-yaml:2: not valid YAML"),
    (["run", "-c", "{dir}/missing"], EXIT_CONFIG, "missing: cannot read the file"),
    (["test-notify", "phone", "-c", "{dir}/empty"], EXIT_CONFIG, "the file is empty"),
    (["status", "-c", "{dir}/binary"], EXIT_CONFIG, "the file is not UTF-8 text"),
    (["history", "-c", "{dir}/a-directory"], EXIT_CONFIG, "not a regular file"),
    (["check-config", "{dir}/empty", "-c", "{dir}/binary"], EXIT_USAGE, "two configs given"),
    # Numbers that are not.
    (["bench", "--events", "0"], EXIT_USAGE, "--events: expected a whole number >= 1, got 0"),
    (["bench", "--books", "1"], EXIT_USAGE, "--books: expected a whole number >= 2, got 1"),
    (["bench", "--events", "1e12"], EXIT_USAGE, "--events: expected a whole number >= 1, got 1e12"),
    (["bench", "--events", "10000000000"], EXIT_USAGE, "a whole number from 1 to 50,000"),
    (["demo", "--seconds", "nan"], EXIT_USAGE, "--seconds: expected a duration like 90s"),
    (["demo", "--seconds=-1m"], EXIT_USAGE, "--seconds: expected a duration like 90s"),
    (["history", "--limit", "-1"], EXIT_USAGE, "--limit: expected a whole number >= 1"),
    (["replay", "x", "--min-profit", "inf"], EXIT_USAGE, "a percentage like 3% or 0.03"),
    (["replay", "x", "--sharp", " "], EXIT_USAGE, '--sharp: expected text, got " "'),
    (["calc", "arb", "2", "2", "--bankroll", "1e999"], EXIT_USAGE, "a number > 0, got 1e999"),
    (["calc", "arb", "+1e9", "-110"], EXIT_USAGE, "beyond any bookmaker's"),
    (["calc", "arb", "nan", "2"], EXIT_USAGE, "odds must be a finite number, got 'nan'"),
    (["calc", "arb", "0/0", "1/1"], EXIT_USAGE, "fractional odds need a/b with a > 0"),
    (["calc", "arb", "", "2"], EXIT_USAGE, "odds are empty"),
    # Words that are not.
    (["status", "--url", "nonsense"], EXIT_USAGE, "expected a URL like http://127.0.0.1:9464"),
    (["demo", "--notify", "https://example.com/hook"], EXIT_USAGE, "write json://HOST/PATH"),
    (["calc"], EXIT_USAGE, "the following arguments are required: arb|ev"),
    (["nosuch"], EXIT_USAGE, "argument COMMAND: invalid choice: 'nosuch'"),
]


@pytest.mark.parametrize(("argv", "status", "message"), CASES)
def test_bad_input_gets_one_line_and_its_exit_status(
    files: Path,
    capsys: pytest.CaptureFixture[str],
    argv: list[str],
    status: int,
    message: str,
) -> None:
    assert main([arg.replace("{dir}", str(files)) for arg in argv]) == status
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.count("\n") == 1, captured.err
    assert message in captured.err
    # No internal names: what argparse calls the calculator's subcommand, for one.
    assert "calc_kind" not in captured.err


def test_a_config_with_many_problems_lists_each_on_its_line(
    files: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = files / "two-problems.yaml"
    config.write_text("odds_format: roman\nbankroll: -5\n", encoding="utf-8")
    assert main(["show-config", str(config)]) == EXIT_CONFIG
    lines = capsys.readouterr().err.splitlines()
    assert lines[0] == "arbwatch: the config cannot be used:"
    assert any(line.startswith(f"{config}:1: odds_format: expected one of") for line in lines)
    assert f"{config}:2: bankroll: expected a number > 0, got -5" in lines


def _arbwatch(*argv: str) -> subprocess.CompletedProcess[str]:
    """``python -m arbwatch ARGV`` as a process."""
    return subprocess.run(
        [sys.executable, "-m", "arbwatch", *argv],
        capture_output=True,
        text=True,
        timeout=PROCESS_TIMEOUT,
        check=False,
    )


def test_the_tracebacks_of_the_issue_are_one_line_now(files: Path) -> None:
    replayed = _arbwatch("replay", str(files / "binary"))
    assert (replayed.returncode, replayed.stdout) == (EXIT_USAGE, "")
    assert replayed.stderr == (
        f"arbwatch: error: {files / 'binary'}:1: not UTF-8 text, so not a recording "
        "(a .jsonl file)\n"
    )
    for flag, value in (("--events", "0"), ("--books", "1")):
        bench = _arbwatch("bench", flag, value)
        assert (bench.returncode, bench.stdout) == (EXIT_USAGE, "")
        assert bench.stderr.startswith(f"arbwatch: error: argument {flag}: expected a whole")
        assert bench.stderr.count("\n") == 1


def test_demo_into_head_ends_quietly_once_head_has_its_lines() -> None:
    # `arbwatch demo | head -3`, with this test as head: read 3 lines, then close the pipe.
    # --seconds bounds the demo, and so each readline, should it not stop as it should.
    with subprocess.Popen(
        [sys.executable, "-m", "arbwatch", "demo", "--seconds", "50"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    ) as demo:
        assert demo.stdout is not None
        assert demo.stderr is not None
        head = [demo.stdout.readline() for _ in range(3)]
        demo.stdout.close()
        try:
            status = demo.wait(timeout=PROCESS_TIMEOUT)
        finally:
            demo.kill()
        errors = demo.stderr.read().decode()
    assert head[0].startswith(b"arbwatch demo: simulated RapidOddsAPI and TheRundown")
    assert len(head[2]) > 1  # the first alert's title
    assert (status, errors) == (EXIT_BROKEN_PIPE, "")
