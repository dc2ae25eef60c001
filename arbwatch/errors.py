"""The one exception hierarchy of arbwatch.

Every error that arbwatch raises on purpose derives from `ArbwatchError`, so the command
line can turn any of them into a one-line message instead of a traceback.
"""


class ArbwatchError(Exception):
    """Base of every error arbwatch raises on purpose; its text is meant for the user."""


class InvalidOddsError(ArbwatchError, ValueError):
    """A price that is not valid odds: American in (-100, 100), decimal <= 1.0, NaN, text."""


class ImplausibleOddsError(InvalidOddsError):
    """Odds text that reads as a price but is surely not the one meant (``110`` for +110)."""


class InvalidMarketError(ArbwatchError, ValueError):
    """A market or outcome that cannot be priced: wrong outcome count, unknown slot."""


class InvalidStakeError(ArbwatchError, ValueError):
    """A bankroll, stake increment, commission, Kelly fraction or threshold out of range."""


class ConfigError(ArbwatchError, ValueError):
    """A configuration that cannot be used; its text names the file, line and path.

    ``problems`` holds one line per mistake found (``config.yaml:23: rules[1].min_ev:
    expected a percentage like 3% or 0.03, got "three"``); the message joins them.
    """

    def __init__(self, problems: str | list[str]) -> None:
        """Keep every problem; the message is all of them, one per line."""
        self.problems = [problems] if isinstance(problems, str) else list(problems)
        super().__init__("\n".join(self.problems))
