"""Provider feeds: pure parsers of each wire protocol, and thin drivers on httpx-ws."""
