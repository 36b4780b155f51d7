import socket

import pytest

from services.common import embedded
from services.common.embedded import free_port

pytestmark = pytest.mark.unit


def test_a_free_port_is_outside_the_range_outgoing_connections_take_and_never_handed_out_twice():
    low = embedded._first_outgoing_port()
    ports = [free_port() for _ in range(50)]
    assert len(set(ports)) == 50
    assert all(embedded.LOWEST_PORT <= port < low for port in ports)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", ports[-1]))  # free: a server can listen on it


def test_a_port_in_use_is_passed_over(monkeypatch):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        busy = taken.getsockname()[1]
        picks = iter([busy, busy, 0])
        monkeypatch.setattr(embedded._PICK, "randrange", lambda *_: next(picks))
        assert free_port() not in (busy, 0)
