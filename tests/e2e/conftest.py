"""Integration tests run on anyio's asyncio backend, against real loopback servers."""

import pytest


@pytest.fixture
def anyio_backend() -> str:
    """asyncio: the backend uvicorn (the simulators' server) runs on."""
    return "asyncio"
