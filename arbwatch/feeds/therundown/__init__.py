"""TheRundown: the V2 markets socket (and V1's legacy one) on a REST bootstrap.

``wire`` parses, ``session`` keeps the protocol state (pure), ``settings`` is what a feed
watches, ``driver`` runs it over httpx-ws; ``v1`` and ``v1_driver`` are the legacy socket.
"""
