"""Closing-line value as text: the summary per rule and per book, and one alert's cell.

`summary_lines` is what ``arbwatch history --clv`` prints from the store's records, and what
a backtest prints from the records it computed: the same function, so the two read alike.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

from arbwatch.core.books import book_id
from arbwatch.core.clv import ClvRecord

#: How many alerts a history cell shows before it says how many more there are.
CELL_ALERTS = 3
#: The summary's columns after the rule's or book's name.
_COLUMNS = ("PRICES", "WITH CLOSE", "MEAN CLV", "BEAT CLOSE", "NO CLOSE")


@dataclass(slots=True)
class _Group:
    """The records of one rule or one book."""

    name: str
    clvs: list[float] = field(default_factory=list)
    no_close: int = 0

    def add(self, record: ClvRecord) -> None:
        """Count ``record``."""
        if record.clv is None:
            self.no_close += 1
        else:
            self.clvs.append(record.clv)

    def row(self) -> tuple[str, ...]:
        """NAME, PRICES, WITH CLOSE, MEAN CLV, BEAT CLOSE, NO CLOSE."""
        count = len(self.clvs)
        if count:
            mean = _percent(sum(self.clvs) / count)
            beat = sum(1 for clv in self.clvs if clv > 0.0)
            share = f"{beat / count:.0%} ({beat}/{count})"
        else:
            mean = share = "-"
        return (self.name, str(count + self.no_close), str(count), mean, share, str(self.no_close))


def summary_lines(records: Iterable[ClvRecord], pending: int = 0) -> list[str]:
    """The closing-line value of ``records`` per rule and per book, and over all of them.

    Per group: the prices settled, how many had a close, their mean CLV, the share that
    beat the close (CLV > 0) and how many had no close. ``pending`` is how many prices still
    wait for their game to start.
    """
    settled = list(records)
    waiting = f"; {pending} more wait for their game to start" if pending else ""
    if not settled:
        return [f"No closing-line value yet: no alerted game has started{waiting}."]
    overall = _Group("ALL")
    for record in settled:
        overall.add(record)
    by_rule = _grouped(settled, lambda r: r.alerted.rule, lambda r: r.alerted.rule)
    by_book = _grouped(settled, lambda r: book_id(r.alerted.book), _book)
    sections = [
        [("RULE", *_COLUMNS), *(group.row() for group in by_rule)],
        [("BOOK", *_COLUMNS), *(group.row() for group in by_book)],
        [overall.row()],
    ]
    return [
        f"Closing-line value of {_count(len(settled), 'alerted price')}{waiting}",
        *_aligned(sections),
        "CLV = alerted price / closing fair price - 1; beat the close: CLV > 0",
    ]


def clv_cell(records: Sequence[ClvRecord], pending: int = 0) -> str:
    """One opportunity's CLV for a history row: per alert, in order, legs joined by ``/``.

    ``+2.10%``; ``+1.20%/-0.80%`` (an arbitrage's two legs); ``no close``; ``pending``
    while its game has not started; ``-`` when nothing was tracked.
    """
    alerts: dict[float, list[str]] = {}
    for record in sorted(records, key=lambda r: (r.alerted.alerted_at, r.alerted.outcome)):
        text = "no close" if record.clv is None else _percent(record.clv)
        alerts.setdefault(record.alerted.alerted_at, []).append(text)
    cells = ["/".join(legs) for legs in alerts.values()]
    if len(cells) > CELL_ALERTS:
        cells = [*cells[:CELL_ALERTS], f"+{len(cells) - CELL_ALERTS} more"]
    if pending:
        cells.append("pending")
    return " ".join(cells) or "-"


def _percent(value: float) -> str:
    """``+2.10%``; a value that rounds to zero is ``+0.00%``, never ``-0.00%``."""
    return f"{round(value, 4) + 0.0:+.2%}"


def _book(record: ClvRecord) -> str:
    """A book's name as first recorded."""
    return record.alerted.book


def _grouped(
    records: Sequence[ClvRecord],
    key: Callable[[ClvRecord], str],
    name: Callable[[ClvRecord], str],
) -> list[_Group]:
    """``records`` grouped by ``key``, named by the first record's ``name``, by name."""
    groups: dict[str, _Group] = {}
    for record in records:
        group = groups.get(key(record))
        if group is None:
            group = groups[key(record)] = _Group(name(record))
        group.add(record)
    return sorted(groups.values(), key=lambda g: g.name.casefold())


def _aligned(sections: Sequence[Sequence[tuple[str, ...]]]) -> list[str]:
    """The sections' rows with columns aligned across all of them, a blank line before each.

    Names on the left, numbers on the right.
    """
    rows = [row for section in sections for row in section]
    widths = [max(len(row[column]) for row in rows) for column in range(len(rows[0]))]
    lines = []
    for section in sections:
        lines.append("")
        lines.extend(
            "  ".join(
                cell.ljust(width) if column == 0 else cell.rjust(width)
                for column, (cell, width) in enumerate(zip(row, widths, strict=True))
            ).rstrip()
            for row in section
        )
    return lines


def _count(number: int, noun: str) -> str:
    """``1 alerted price``, ``2 alerted prices``."""
    return f"{number} {noun}{'' if number == 1 else 's'}"
