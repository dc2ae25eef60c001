"""Configuration: the typed model (`model`), the YAML loader (`load`) and its summaries (`show`).

``load_config`` reads a file into a `Config`, or raises `arbwatch.errors.ConfigError` listing
every problem as ``FILE:LINE: PATH: why``.
"""

from arbwatch.config.load import load_config, parse_config
from arbwatch.config.model import ChannelConfig, Config, Secret

__all__ = [
    "ChannelConfig",
    "Config",
    "Secret",
    "load_config",
    "parse_config",
]
