"""Reading a config is bounded: aliases of aliases, deep nesting, huge files, FIFOs."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest

from arbwatch.config import load_config
from arbwatch.config.load import MAX_CONFIG_BYTES
from arbwatch.config.yamlsource import MAX_VALUES
from arbwatch.errors import ConfigError
from tests.unit.test_config import MINIMAL, parse, problems

pytestmark = pytest.mark.faults

#: Seconds a read that must not block gets before the test fails.
WAIT = 10.0


def alias_bomb(levels: int, width: int, config: str = MINIMAL) -> str:
    """``config`` after ``levels`` lists of ``width`` aliases to the list before.

    The last list stands for ``width ** levels`` scalars; the lists start on line 2.
    """
    lines = [f"  a0: &a0 [{', '.join(['x'] * width)}]"]
    lines += [
        f"  a{level}: &a{level} [{', '.join([f'*a{level - 1}'] * width)}]"
        for level in range(1, levels)
    ]
    return "bomb:\n" + "\n".join(lines) + "\n" + config


def test_nested_aliases_are_refused_at_the_cap_with_a_clear_message() -> None:
    # 9 ** 9 = 387 million scalars from 500 bytes: unbounded, this took minutes and GBs.
    text = alias_bomb(9, 9)
    assert len(text.encode()) < 1000
    [message] = problems(text)
    assert message.startswith("config.yaml:2: not valid YAML: more than 100,000 values")
    assert "aliases" in message


def test_aliases_within_the_cap_are_expanded() -> None:
    # 3 ** 4 = 81 scalars: a use of aliases no one would call a bomb still reads.
    text = alias_bomb(4, 3)
    assert MAX_VALUES > 3**4
    [message] = problems(text)
    # Read to the end: the only problem is the unknown top-level key, on its line.
    assert message.startswith("config.yaml:1: bomb: unknown key")


def test_aliases_in_a_real_config_still_work() -> None:
    text = MINIMAL.replace("bookmakers: [Pinnacle]", "bookmakers: &books [Pinnacle, DraftKings]")
    config = parse(text.replace("kind: arbitrage\n", "kind: arbitrage\n    books: *books\n"))
    assert config.rules[0].books == frozenset({"Pinnacle", "DraftKings"})


@pytest.mark.parametrize(
    ("text", "line"),
    [
        ("bankroll: " + "[" * 5000 + "]" * 5000 + "\n", 1),
        ("a:\n  b: " + "{x: " * 5000 + "1" + "}" * 5000 + "\n", 2),
    ],
    ids=["lists", "mappings"],
)
def test_nesting_too_deep_is_an_error_not_a_crash(text: str, line: int) -> None:
    [message] = problems(text + MINIMAL)
    assert message == (
        f"config.yaml:{line}: not valid YAML: lists and mappings nested too deep to read"
    )


def test_a_file_over_the_size_cap_is_refused_unread(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    # A valid config padded with a comment to one byte over the cap.
    padding = MAX_CONFIG_BYTES - len(MINIMAL.encode()) - len("#\n") + 1
    path.write_text(MINIMAL + "#" + "x" * padding + "\n", encoding="utf-8")
    assert path.stat().st_size == MAX_CONFIG_BYTES + 1
    with pytest.raises(ConfigError) as caught:
        load_config(path, {})
    assert caught.value.problems == [f"{path}: the file is over 1024 KB, too large for a config"]


def test_a_file_at_the_size_cap_is_read(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    padding = MAX_CONFIG_BYTES - len(MINIMAL.encode()) - len("#\n")
    path.write_text(MINIMAL + "#" + "x" * padding + "\n", encoding="utf-8")
    assert path.stat().st_size == MAX_CONFIG_BYTES
    assert load_config(path, {}).feeds[0].name == "rapid"


def test_a_fifo_is_refused_without_waiting_for_a_writer(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    os.mkfifo(path)
    caught: list[BaseException] = []

    def load() -> None:
        try:
            load_config(path, {})
        except ConfigError as error:
            caught.append(error)

    # In a thread: opening a FIFO for reading blocks until a writer comes, and a test
    # that hangs proves nothing. A daemon thread left blocked dies with the process.
    reader = threading.Thread(target=load, daemon=True)
    reader.start()
    reader.join(WAIT)
    assert not reader.is_alive(), "load_config blocked on a FIFO"
    [error] = caught
    assert isinstance(error, ConfigError)
    assert error.problems == [f"{path}: not a regular file"]
