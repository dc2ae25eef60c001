"""Configuration: the typed model (`model`), the YAML loader (`load`) and its summaries (`show`).

``load_config`` reads a file into a `Config`, or raises `arbwatch.errors.ConfigError` listing
every problem as ``FILE:LINE: PATH: why``.

The names below are imported when first used (PEP 562), not with the package: the command
line's argument checks import `arbwatch.config.values`, and importing the package with the
loader would make every command, ``calc`` included, pay the loader's 0.2 s at start.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from arbwatch.config.load import load_config, parse_config
    from arbwatch.config.model import ChannelConfig, Config, Secret

__all__ = [
    "ChannelConfig",
    "Config",
    "Secret",
    "load_config",
    "parse_config",
]

#: Where each name of the package lives.
_HOMES: Final = {
    "ChannelConfig": "arbwatch.config.model",
    "Config": "arbwatch.config.model",
    "Secret": "arbwatch.config.model",
    "load_config": "arbwatch.config.load",
    "parse_config": "arbwatch.config.load",
}


def __getattr__(name: str) -> object:
    """Import ``name`` from its module at first use."""
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(home), name)
