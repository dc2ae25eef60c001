"""RapidOddsAPI: the subscribe WebSocket and REST snapshots.

``wire`` parses, ``session`` keeps the protocol state (pure), ``settings`` is what a feed
subscribes to, ``driver`` runs it over httpx-ws.
"""
