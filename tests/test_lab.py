"""`make lab` starts JupyterLab on notebooks/ with the mini model selected, and stops cleanly.

The server is started as a learner would start it, through make, in its own process group; it listens on
127.0.0.1 only, with a random token, and the whole group is killed whatever happens.
"""

import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
NOTEBOOKS = REPO / "notebooks"
STARTUP_TIMEOUT = 120  # seconds; includes make's check that .venv is up to date

pytestmark = pytest.mark.skipif(
    shutil.which("make") is None or sys.platform == "win32", reason="needs make and POSIX process groups"
)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def group_members(pgid: int) -> list[int]:
    """Live (non-zombie) processes in process group `pgid`."""
    proc = Path("/proc")
    if not proc.is_dir():  # macOS: ask the kernel whether the group still has any member
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return []
        return [pgid]
    members = []
    for entry in proc.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()  # after "pid (command) "
        state, group = fields[0], int(fields[2])
        if group == pgid and state not in ("Z", "X"):
            members.append(int(entry.name))
    return members


def stop_group(pgid: int) -> None:
    for sig, grace in ((signal.SIGTERM, 20), (signal.SIGKILL, 10)):
        try:
            os.killpg(pgid, sig)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + grace
        while time.monotonic() < deadline:
            if not group_members(pgid):
                return
            time.sleep(0.2)


def get(url: str, timeout: float = 5):
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # localhost: never via a proxy
    with opener.open(url, timeout=timeout) as response:
        return response.status, json.loads(response.read())


def test_make_lab_serves_the_notebooks_folder(tmp_path):
    port, token = free_port(), secrets.token_urlsafe(24)
    env = {
        k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MAKELEVEL", "MFLAGS", "COURSE_MODEL")
    }
    env.update(
        JUPYTER_RUNTIME_DIR=str(tmp_path / "runtime"),
        JUPYTER_CONFIG_DIR=str(tmp_path / "config"),
        JUPYTER_DATA_DIR=str(tmp_path / "data"),
    )
    lab_args = (
        f"--no-browser --ServerApp.ip=127.0.0.1 --ServerApp.port={port} --ServerApp.port_retries=0 "
        f"--IdentityProvider.token={token}"
    )
    log_path = tmp_path / "lab.log"
    base = f"http://127.0.0.1:{port}"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            ["make", "--no-print-directory", "lab", f"LAB_ARGS={lab_args}"],
            cwd=REPO,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group, so everything it starts can be killed
        )
    pgid = proc.pid
    try:

        def log_tail() -> str:
            return log_path.read_text(errors="replace")[-3000:]

        deadline = time.monotonic() + STARTUP_TIMEOUT
        listing = None
        while time.monotonic() < deadline:
            assert proc.poll() is None, f"make lab exited with {proc.returncode}:\n{log_tail()}"
            try:
                status, listing = get(f"{base}/api/contents?token={token}")
                break
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                time.sleep(0.5)
        assert listing is not None, f"JupyterLab did not answer within {STARTUP_TIMEOUT} s:\n{log_tail()}"
        assert status == 200

        # What is served is notebooks/, not the repository root.
        assert listing["type"] == "directory" and listing["path"] == ""
        served = {item["name"] for item in listing["content"]}
        on_disk = {p.name for p in NOTEBOOKS.iterdir() if not p.name.startswith(".")}
        assert served <= on_disk, f"served {served - on_disk} which are not in notebooks/"
        assert {p.name for p in NOTEBOOKS.glob("*.ipynb")} <= served
        assert "Makefile" not in served
        server_files = list((tmp_path / "runtime").glob("jpserver-*.json"))
        assert len(server_files) == 1, log_tail()
        info = json.loads(server_files[0].read_text())
        assert Path(info["root_dir"]).resolve() == NOTEBOOKS.resolve()
        assert info["port"] == port

        # The token is required.
        with pytest.raises(urllib.error.HTTPError) as refused:
            get(f"{base}/api/contents")
        assert refused.value.code == 403

        # The server runs with the bundled model selected (Linux: read its environment).
        if Path("/proc").is_dir():
            environs = []
            for pid in group_members(pgid):
                try:
                    environs.append((Path("/proc") / str(pid) / "environ").read_bytes().split(b"\0"))
                except OSError:
                    pass
            assert any(b"COURSE_MODEL=mini" in e for e in environs)
    finally:
        stop_group(pgid)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass
    assert group_members(pgid) == [], "make lab left processes behind"
