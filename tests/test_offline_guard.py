"""The test session is offline: the Hugging Face libraries are told so, and sockets refuse the network
while loopback keeps working (see conftest.py)."""

from __future__ import annotations

import os
import socket
import threading

import pytest


def test_hugging_face_libraries_are_offline():
    from huggingface_hub import constants

    assert os.environ["HF_HUB_OFFLINE"] == "1" and constants.HF_HUB_OFFLINE
    assert "course-tests-hf-" in constants.HF_HUB_CACHE  # an empty cache, not the developer's


def test_connections_to_the_internet_fail_loudly(network_attempts):
    with pytest.raises(RuntimeError, match="network access is not allowed in tests.*203.0.113.7") as info:
        socket.create_connection(("203.0.113.7", 443), timeout=1)
    assert type(info.value).__name__ == "NetworkAccessBlocked"
    with pytest.raises(RuntimeError, match="DNS lookup of 'huggingface.co'"):
        socket.getaddrinfo("huggingface.co", 443)
    with pytest.raises(RuntimeError, match="2001:db8"):
        socket.socket(socket.AF_INET6).connect_ex(("2001:db8::1", 80, 0, 0))
    assert len(network_attempts) == 3
    network_attempts.clear()  # provoked on purpose: don't fail the test at teardown


def test_loopback_still_works():
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(1)
        port = server.getsockname()[1]
        accepted = threading.Thread(target=lambda: server.accept()[0].close())
        accepted.start()
        with socket.create_connection(("localhost", port), timeout=5):
            pass
        accepted.join(timeout=5)
