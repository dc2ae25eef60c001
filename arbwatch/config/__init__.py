"""Configuration: the typed model (`model`) and the YAML loader that builds it."""
