"""Alert messages (pure formatting) and their delivery through apprise.

Importing the package registers the ``console://`` scheme (see `arbwatch.notify.console`).
"""

from arbwatch.notify import console as console
