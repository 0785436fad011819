"""Shared test setup: no network, an empty Hugging Face cache, and a tiny Stable Diffusion to test with.

- Every test runs offline: HF_HUB_OFFLINE and friends are set before any Hugging Face library is imported,
  and a guard makes any connection to a non-loopback address fail with NetworkAccessBlocked. A library that
  swallows that error does not hide it: the test then fails at teardown, naming the address.
  Loopback (127.0.0.0/8, ::1, localhost) and Unix sockets stay allowed, for the JupyterLab tests.
- The Hugging Face cache points to an empty temporary folder, so what a developer has downloaded can't
  change the results.
- `tiny_sd_dir` is a tiny random Stable Diffusion saved with save_pretrained (see tests/tiny_sd.py);
  `tiny_pipe` loads it with the course's load_pipeline on the CPU.
"""

from __future__ import annotations

import ipaddress
import os
import shutil
import socket
import sys
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))  # so that `from tests.tiny_sd import ...` works from any folder

_HF_HOME = tempfile.mkdtemp(prefix="course-tests-hf-")
OFFLINE_ENV = {
    "HF_HUB_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "HF_DATASETS_OFFLINE": "1",
    "HF_HUB_DISABLE_TELEMETRY": "1",
    "DISABLE_TELEMETRY": "1",
    "DO_NOT_TRACK": "1",
    "HF_HOME": _HF_HOME,
    "HF_HUB_CACHE": os.path.join(_HF_HOME, "hub"),
    "MPLBACKEND": "Agg",
}
# Set at import time: huggingface_hub reads these once, when it is first imported.
os.environ.update(OFFLINE_ENV)


class NetworkAccessBlocked(RuntimeError):
    """Raised by the test guard when code tries to reach the network."""


_attempts: list[str] = []


def _is_loopback_host(host) -> bool:
    if host is None or host in ("", "localhost", "localhost.localdomain", b"localhost"):
        return True
    if isinstance(host, bytes):
        host = host.decode(errors="replace")
    try:
        return ipaddress.ip_address(str(host).split("%")[0]).is_loopback
    except ValueError:
        return False


def _is_local_address(address) -> bool:
    if isinstance(address, (str, bytes)):
        return True  # a Unix socket path
    if isinstance(address, tuple) and address:
        return _is_loopback_host(address[0])
    return False


def _block(what: str):
    _attempts.append(what)
    raise NetworkAccessBlocked(f"network access is not allowed in tests: {what}")


@pytest.fixture(scope="session", autouse=True)
def _network_guard():
    """Make connections to anything but loopback raise NetworkAccessBlocked, for the whole session."""
    real_connect, real_connect_ex = socket.socket.connect, socket.socket.connect_ex
    real_getaddrinfo = socket.getaddrinfo
    hostname = socket.gethostname()

    def connect(self, address):
        if not _is_local_address(address):
            _block(f"connect to {address!r}")
        return real_connect(self, address)

    def connect_ex(self, address):
        if not _is_local_address(address):
            _block(f"connect_ex to {address!r}")
        return real_connect_ex(self, address)

    def getaddrinfo(host, *args, **kwargs):
        if not (_is_loopback_host(host) or host == hostname):
            _block(f"DNS lookup of {host!r}")
        return real_getaddrinfo(host, *args, **kwargs)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(socket.socket, "connect", connect)
        patch.setattr(socket.socket, "connect_ex", connect_ex)
        patch.setattr(socket, "getaddrinfo", getaddrinfo)
        for key, value in OFFLINE_ENV.items():
            patch.setenv(key, value)
        yield
    shutil.rmtree(_HF_HOME, ignore_errors=True)


@pytest.fixture
def network_attempts():
    """The list of blocked network attempts: a test that provokes one on purpose clears it."""
    return _attempts


@pytest.fixture(autouse=True)
def _no_swallowed_network_attempts():
    _attempts.clear()
    yield
    if _attempts:
        found = list(_attempts)
        _attempts.clear()
        pytest.fail(f"the test tried to use the network: {'; '.join(found)}", pytrace=False)


@pytest.fixture(scope="session")
def tiny_sd_dir(tmp_path_factory) -> Path:
    """A tiny random Stable Diffusion (64x64 images, 8x8x4 latents) saved as a diffusers folder."""
    from tests.tiny_sd import save_tiny_sd

    return save_tiny_sd(tmp_path_factory.mktemp("tiny-sd") / "model")


@pytest.fixture
def tiny_pipe(tiny_sd_dir):
    """The tiny model loaded with the course's load_pipeline, on the CPU, with the course's default scheduler."""
    from course_utils.pipeline import load_pipeline

    return load_pipeline(tiny_sd_dir, device="cpu")


@pytest.fixture
def pipe(tiny_sd_dir):
    """The tiny model in float32, fresh for each test: for the tests that train it (fine-tuning, LoRA, tokens)."""
    import torch

    from course_utils.pipeline import load_pipeline

    return load_pipeline(tiny_sd_dir, device="cpu", dtype=torch.float32)
