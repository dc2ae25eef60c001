"""Switches that make a simulator misbehave the way real providers and networks do.

A test (or `arbwatch demo --fault ...`) holds the simulator's `Faults` and flips a switch;
the simulator reads it on every connection and before every frame it sends, so a switch
takes effect at once on live connections too.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class Faults:
    """What a simulator should get wrong; all off by default.

    Attributes:
        refuse_handshake: answer WebSocket handshakes with this HTTP status (401, 403,
            429) instead of accepting them.
        retry_after: with a 429 refusal, the Retry-After header, in seconds.
        drop: end every live connection at once, without a close frame, and keep
            accepting new ones.
        close_code: close every live connection with this code (4001, 1011), once.
        silent: send nothing at all, data or heartbeat, while on.
        stall: accept connections, then neither send nor read anything while on.
        malformed_frames: the next this many frames are broken JSON.
        oversized_frames: the next this many frames are padded past ``oversized_bytes``.
        oversized_bytes: the size an oversized frame reaches.
    """

    refuse_handshake: int | None = None
    retry_after: float | None = None
    drop: bool = False
    close_code: int | None = None
    silent: bool = False
    stall: bool = False
    malformed_frames: int = 0
    oversized_frames: int = 0
    oversized_bytes: int = 4 * 1024 * 1024

    def take_malformed(self) -> bool:
        """Whether the frame about to be sent should be broken (uses up one)."""
        if self.malformed_frames > 0:
            self.malformed_frames -= 1
            return True
        return False

    def take_oversized(self) -> bool:
        """Whether the frame about to be sent should be oversized (uses up one)."""
        if self.oversized_frames > 0:
            self.oversized_frames -= 1
            return True
        return False
