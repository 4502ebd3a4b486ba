"""Shared fixtures. Tests run against the built package (`pip install .` or
`maturin develop`), never against the source tree's Python files alone."""

import pytest

import sealtrail
from sealtrail import _native, _state


def core_client_available() -> bool:
    """True when this build links core's client pipeline (ledger, HTTP)."""
    return hasattr(_native.Client, "ledger_path")


needs_core_client = pytest.mark.skipif(
    not core_client_available(),
    reason="this build has no core client pipeline yet (branch `client` not merged): "
    "ledger, delivery and spool tests need it",
)


@pytest.fixture
def events():
    """Captures events in memory; call the fixture's value to take them."""
    sealtrail.init(capture=True, agent_id="test-agent")
    client = _state.client
    client.take_captured()
    yield client.take_captured
    _state.shutdown(1.0)
    _state._closed = False
