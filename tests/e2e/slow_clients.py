"""Hold slow connections to a port of 127.0.0.1, from a process of their own.

``python -m tests.e2e.slow_clients PORT COUNT`` opens COUNT connections to 127.0.0.1:PORT,
sends half a request line on each (slowloris), prints ``held COUNT`` and keeps them open
until its standard input closes, then closes them all. With ``--on-line`` it first prints
``waiting`` and connects only once a line comes on its standard input. A process of its own, so the
descriptors are its own and the test's process can be held to systemd's default 1,024.
"""

from __future__ import annotations

import resource
import socket
import sys
from contextlib import ExitStack, suppress

#: What each connection sends, once: the start of a request that never ends.
HALF_REQUEST = b"GET /status HTTP/1.1\r\nx-slow: "


def main(port: int, count: int, *, on_line: bool = False) -> None:
    """Hold ``count`` slow connections to ``port`` until standard input closes."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and (hard == resource.RLIM_INFINITY or soft < hard):
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    if on_line:
        print("waiting", flush=True)
        sys.stdin.readline()
    with ExitStack() as held:
        flood = []
        for _ in range(count):
            sock = held.enter_context(socket.socket(socket.AF_INET, socket.SOCK_STREAM))
            sock.setblocking(False)
            # Non-blocking: a connection the listener's queue has no room for yet is
            # retried by the kernel, as an attacker's would be.
            sock.connect_ex(("127.0.0.1", port))
            flood.append(sock)
        for sock in flood:
            # Not connected yet, or closed by the listener already: slow either way.
            with suppress(OSError):
                sock.send(HALF_REQUEST)
        print(f"held {len(flood)}", flush=True)
        sys.stdin.read()


if __name__ == "__main__":
    main(int(sys.argv[1]), int(sys.argv[2]), on_line="--on-line" in sys.argv[3:])
