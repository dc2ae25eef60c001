"""The one exception hierarchy of arbwatch.

Every error that arbwatch raises on purpose derives from `ArbwatchError`, so the command
line can turn any of them into a one-line message instead of a traceback.
"""


class ArbwatchError(Exception):
    """Base of every error arbwatch raises on purpose; its text is meant for the user."""


class InvalidOddsError(ArbwatchError, ValueError):
    """A price that is not valid odds: American in (-100, 100), decimal <= 1.0, NaN, text."""


class InvalidMarketError(ArbwatchError, ValueError):
    """A market or outcome that cannot be priced: wrong outcome count, unknown slot."""


class InvalidStakeError(ArbwatchError, ValueError):
    """A bankroll, stake increment, commission, Kelly fraction or threshold out of range."""
