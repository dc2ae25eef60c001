"""Near misses: ``did you mean 'min_ev'?`` for a word close to one that is known.

Shared by the config loader (keys, choices, channel names) and the apprise URL check
(`arbwatch.notify.urls`), which sit in different layers; this one depends on nothing.
"""

from __future__ import annotations

import difflib
from collections.abc import Collection


def did_you_mean(word: str, choices: Collection[str]) -> str:
    """``did you mean 'min_ev'?`` when ``word`` is close to one of ``choices``, else ''.

    A word that only one choice starts with (or that starts with only one) is taken as
    that choice cut short: ``flush`` for ``flush_timeout``, which difflib finds too far.
    """
    prefixed = [choice for choice in choices if choice.startswith(word) or word.startswith(choice)]
    close = (
        prefixed if len(prefixed) == 1 else difflib.get_close_matches(word, sorted(choices), n=1)
    )
    return f"did you mean {close[0]!r}?" if close else ""
