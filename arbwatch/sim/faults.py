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
        drop: while on, end every live connection without a close frame (the client sees a
            network error), and end each new one the same way right after its handshake.
        close_code: close every live connection with this code (4001, 1011); the simulator
            then sets it back to None, so it fires once. Give each simulator its own Faults.
        silent: while on, send nothing at all, data or heartbeat; what would have been sent
            is discarded (TheRundown's delta log keeps it, as the real one would).
        stall: while on, hold every frame and read nothing; held frames go out when it ends.
        malformed_frames: the next this many frames are cut in half (never valid JSON).
        oversized_frames: the next this many frames are padded with spaces past
            ``oversized_bytes`` (still valid JSON: only the size is wrong).
        oversized_bytes: the size an oversized frame reaches.
        binary_frames: the next this many frames go out as binary frames (their text as
            UTF-8 bytes); neither provider sends binary, so a client must skip them.
        rest_rate_limited: the next this many authenticated REST requests are answered
            as if over the burst limit (429, ``Retry-After: 1``); TheRundown simulator.
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
    binary_frames: int = 0
    rest_rate_limited: int = 0

    def take_malformed(self) -> bool:
        """Whether the frame about to be sent should be broken (uses up one)."""
        if self.malformed_frames > 0:
            self.malformed_frames -= 1
            return True
        return False

    def take_rest_rate_limited(self) -> bool:
        """Whether the REST request being answered should be refused (uses up one)."""
        if self.rest_rate_limited > 0:
            self.rest_rate_limited -= 1
            return True
        return False

    def take_oversized(self) -> bool:
        """Whether the frame about to be sent should be oversized (uses up one)."""
        if self.oversized_frames > 0:
            self.oversized_frames -= 1
            return True
        return False

    def take_binary(self) -> bool:
        """Whether the frame about to be sent should go out as binary (uses up one)."""
        if self.binary_frames > 0:
            self.binary_frames -= 1
            return True
        return False
