"""Tests of the terminal client (chatd/client/), and the tests' own protocol client.

The tests' client lives in :mod:`tests.client.wire`; it is re-exported here because most
end-to-end tests import it as ``tests.client`` (the name it had before this package existed).
"""

from tests.client.wire import (
    Client,
    full_history,
    http,
    register_and_login,
    send_at_once_and_check,
)

__all__ = ["Client", "full_history", "http", "register_and_login", "send_at_once_and_check"]
