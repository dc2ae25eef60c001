"""The ``console://`` apprise scheme: alerts printed to standard output.

Importing this module registers the scheme with apprise; that side effect is the module's
whole job, so ``console://`` works in every place an apprise URL is accepted (the config
loader's URL check, the notifier, ``arbwatch test-notify``). ``arbwatch.notify`` imports it,
so ``import arbwatch.notify`` is enough.

It is what ``arbwatch demo`` and a first-time setup send to: the alert appears in the terminal
(or in the systemd journal) without any account anywhere.
"""

from __future__ import annotations

import sys
import warnings

from apprise.decorators import notify

#: The apprise scheme this module registers.
SCHEME = "console"


def print_alert(body: str, title: str, *args: object, **kwargs: object) -> bool:
    """Print one alert, title line first, and flush so it shows at once under a pipe.

    Args:
        body: the alert's body lines.
        title: the push text.
        *args: further apprise arguments, unused.
        **kwargs: further apprise arguments (``meta``, ``notify_type``...), unused.

    Returns:
        Always True: writing to stdout is not a delivery that can usefully be retried.
    """
    text = f"{title}\n{body}\n" if title else f"{body}\n"
    sys.stdout.write(text)
    sys.stdout.flush()
    return True


with warnings.catch_warnings():
    # Registering makes apprise load all its plugins; its e-mail plugin imports `imghdr`,
    # deprecated since Python 3.11. That is apprise's to fix, and not worth a line in a
    # bettor's log or a failure in tests that treat warnings as errors.
    warnings.filterwarnings("ignore", "'imghdr' is deprecated", DeprecationWarning)
    notify(on=SCHEME, name="arbwatch console")(print_alert)  # type: ignore[no-untyped-call]
