"""A real browser drives the course: what a learner sees, not only what the kernel runs.

JupyterLab starts headless on a free localhost port with a random token, from the project's .venv, in its
own process group. Debian's Chromium, driven by Playwright, opens a notebook, runs every cell from the Run
menu, checks that no cell shows an error and that the pictures are drawn, then types a new prompt into the
explorer widget, presses Generate and checks that a new picture and the new settings line appear.
Screenshots go to tests/browser/artifacts/ (git-ignored); a failure leaves a screenshot and the server log.

- test_first_lesson_in_a_browser: notebooks/00_first_image.ipynb, served by `make lab`, as a learner runs it.
- test_explorer_in_a_browser: a small notebook written by the test, so that the explorer is covered by a
  real front end whatever the first lesson shows; it runs only when the lesson has no explorer (the lesson
  test then covers the same ground) or when COURSE_BROWSER_FIXTURE=1.
Each run also writes <name>-timings.json (seconds per step, CPU used by the server and kernel) beside them.

Chromium comes from Debian (`make browser-deps`, which `make test` runs; COURSE_CHROMIUM names another);
Playwright's own browser download is never used. Without Chromium or Playwright the tests skip, except when
CI is set: then they fail.
Nothing leaves this machine: JupyterLab runs offline, the browser gets flags that keep it off the network
and a dead proxy for anything not on loopback, and any request the page makes off loopback fails the test.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit

import pytest

REPO = Path(__file__).resolve().parents[2]
NOTEBOOKS = REPO / "notebooks"
LESSON = NOTEBOOKS / "00_first_image.ipynb"
ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
CHROMIUM = Path(os.environ.get("COURSE_CHROMIUM", "/usr/bin/chromium"))  # Debian's; another path may stand in
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
    # Belt and braces: anything not on loopback goes to a proxy that is not there (loopback bypasses it).
    "--proxy-server=http://127.0.0.1:9",
]
VIEWPORT = {"width": 1280, "height": 900}
NEW_PROMPT = "a small green star on a yellow background"

# Timeouts only catch a hang: on an idle 2-core machine the whole test takes a few minutes, but on a loaded one
# (a training job at a higher priority) each step can take many times longer, and that is not a failure.
STARTUP_TIMEOUT = 600  # JupyterLab answering, make's check of .venv included
PAGE_TIMEOUT = 600  # JupyterLab's page loaded and the notebook shown
KERNEL_TIMEOUT = 600  # the notebook's kernel started and idle
RUN_ALL_TIMEOUT = 1800  # every cell run (quick mode)
GENERATE_TIMEOUT = 600  # one press of Generate
UI_TIMEOUT_MS = 120_000  # each other Playwright action

# JupyterLab user settings for the test: no autosave (a lesson's committed outputs are never touched), no news
# or update checks (no network, no toast over the screenshots), and every cell kept in the page, so that the
# checks see the whole notebook.
LAB_SETTINGS = {
    "@jupyterlab/docmanager-extension/plugin": {"autosave": False},
    "@jupyterlab/apputils-extension/notification": {"fetchNews": "false", "checkForUpdates": False},
    "@jupyterlab/notebook-extension/tracker": {"windowingMode": "none"},
    "@jupyterlab/extensionmanager-extension/plugin": {"enabled": False},
}


def has_explorer(path: Path) -> bool:
    """True when `path` is a notebook with a code cell that calls explorer(...)."""
    try:
        cells = json.loads(path.read_text())["cells"]
    except (OSError, ValueError, KeyError, TypeError):
        return False
    for cell in cells:
        source = cell.get("source", "")
        source = "".join(source) if isinstance(source, list) else source
        if cell.get("cell_type") == "code" and re.search(r"\bexplorer\s*\(", source):
            return True
    return False


# ---------------------------------------------------------------- what this machine can do


def _missing(reason: str):
    if os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no"):
        pytest.fail(f"{reason} (CI is set: a missing browser is a failure here, not a skip)", pytrace=False)
    pytest.skip(reason)


@pytest.fixture
def browser_ready():
    """Skip (fail under CI) unless Debian's Chromium, Playwright and POSIX process groups are here."""
    if sys.platform == "win32" or not Path("/proc").is_dir():
        _missing("the browser test needs Linux (/proc and process groups)")
    if not os.access(CHROMIUM, os.X_OK):
        _missing(
            f"no Chromium at {CHROMIUM}: `make browser-deps` installs it on Debian when run as root"
            " (or set COURSE_CHROMIUM to another Chromium)"
        )
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        _missing("Playwright for Python is not installed in this environment (pip install playwright)")
    if shutil.which("make") is None:
        _missing("the browser test starts JupyterLab with make")


# ---------------------------------------------------------------- processes


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _processes():
    """(pid, ppid, pgid, cmdline) of every live (non-zombie) process."""
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()  # after "pid (command) "
        if fields[0] in ("Z", "X"):
            continue
        yield int(entry.name), int(fields[1]), int(fields[2]), cmdline


def group_members(pgid: int) -> list[int]:
    return [pid for pid, _, group, _ in _processes() if group == pgid]


def processes_mentioning(text: str) -> list[int]:
    """Processes whose command line contains `text`: the browser's, which all name our temporary folders
    (its profile; HOME for its crash handlers, which leave the browser's process group)."""
    me = os.getpid()
    return [pid for pid, _, _, cmd in _processes() if text in cmd and pid != me]


def children_of(pid: int) -> set[int]:
    return {p for p, parent, _, _ in _processes() if parent == pid}


def _wait_gone(pids_now, grace: float) -> list[int]:
    deadline = time.monotonic() + grace
    while (left := pids_now()) and time.monotonic() < deadline:
        time.sleep(0.2)
    return left


def cpu_seconds(pids) -> float:
    """User + system CPU time of the live processes `pids`: how much work a run was, whatever the load."""
    total = 0
    for pid in pids:
        try:
            stat = (Path("/proc") / str(pid) / "stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / os.sysconf("SC_CLK_TCK")


def stop_group(pgid: int) -> list[int]:
    """SIGTERM, then SIGKILL, the process group; returns what is left (nothing, normally)."""
    for sig, grace in ((signal.SIGTERM, 20), (signal.SIGKILL, 10)):
        try:
            os.killpg(pgid, sig)
        except ProcessLookupError:
            return []
        if not _wait_gone(lambda: group_members(pgid), grace):
            return []
    return group_members(pgid)


def reap(pids_now, grace: float = 10) -> list[int]:
    """Give the processes `pids_now()` names (ours: found by our own temporary paths or parentage) `grace`
    seconds to end by themselves, SIGKILL any that have not, and return those (they were left behind)."""
    left = _wait_gone(pids_now, grace)
    for pid in left:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    _wait_gone(pids_now, 10)
    return left


# ---------------------------------------------------------------- JupyterLab


def api(base: str, path: str, token: str, timeout: float = 5):
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # localhost: never via a proxy
    with opener.open(f"{base}{path}?token={token}", timeout=timeout) as response:
        return json.loads(response.read())


class Lab:
    def __init__(self, base: str, token: str, log_path: Path):
        self.base, self.token, self.log_path = base, token, log_path
        self.cpu_seconds: float | None = None  # CPU used by the server and its kernels, set when it stops

    def log_tail(self, n: int = 3000) -> str:
        return self.log_path.read_text(errors="replace")[-n:] if self.log_path.exists() else ""

    def url(self, notebook: str) -> str:
        return f"{self.base}/lab/tree/{notebook}?token={self.token}"

    def kernel_state(self, notebook: str) -> str | None:
        """The execution state of the kernel of `notebook`'s session ("starting", "idle", "busy"), or None."""
        try:
            sessions = api(self.base, "/api/sessions", self.token)
        except (urllib.error.URLError, ConnectionError, TimeoutError, ValueError):
            return None
        for session in sessions:
            if Path(session.get("path", "")).name == notebook and session.get("kernel"):
                return session["kernel"].get("execution_state")
        return None


@contextmanager
def jupyter_lab(tmp_path: Path, root_dir: Path | None = None):
    """Yield a running JupyterLab (a `Lab`); stop it on every path and check nothing of it is left.

    With root_dir None it is `make lab` (notebooks/, COURSE_MODEL=mini), as a learner starts it; otherwise
    the .venv's jupyter serves root_dir with the same settings.
    """
    port, token = free_port(), secrets.token_urlsafe(24)
    env = {
        k: v
        for k, v in os.environ.items()
        # MPLBACKEND=Agg (set for the tests) would keep plots out of the notebook; the kernel decides.
        if k not in ("MAKEFLAGS", "MAKELEVEL", "MFLAGS", "COURSE_MODEL", "COURSE_HEADLESS", "MPLBACKEND")
        and not k.startswith("JUPYTER")
    }
    settings_dir = tmp_path / "lab-settings"
    for plugin, values in LAB_SETTINGS.items():
        package, name = plugin.rsplit("/", 1)
        (settings_dir / package).mkdir(parents=True, exist_ok=True)
        (settings_dir / package / f"{name}.jupyterlab-settings").write_text(json.dumps(values))
    env.update(
        JUPYTER_RUNTIME_DIR=str(tmp_path / "runtime"),
        JUPYTER_CONFIG_DIR=str(tmp_path / "config"),
        JUPYTER_DATA_DIR=str(tmp_path / "data"),
        JUPYTERLAB_SETTINGS_DIR=str(settings_dir),
        JUPYTERLAB_WORKSPACES_DIR=str(tmp_path / "workspaces"),
        HF_HUB_OFFLINE="1",
        TRANSFORMERS_OFFLINE="1",
        HF_DATASETS_OFFLINE="1",
        COURSE_QUICK="1",  # what `make test` runs: the lesson's quick mode
        PYTHONUNBUFFERED="1",
    )
    args = [
        "--no-browser",
        "--ServerApp.ip=127.0.0.1",
        f"--ServerApp.port={port}",
        "--ServerApp.port_retries=0",
        f"--IdentityProvider.token={token}",
    ]
    if root_dir is None:
        cmd = ["make", "--no-print-directory", "lab", f"LAB_ARGS={' '.join(args)}"]
    else:
        jupyter = REPO / os.environ.get("VENV", ".venv") / "bin" / "jupyter"
        root = ["--allow-root"] if os.geteuid() == 0 else []
        env["COURSE_MODEL"] = "mini"
        cmd = [str(jupyter), "lab", f"--ServerApp.root_dir={root_dir}", *root, *args]
    log_path = tmp_path / "lab.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            cmd,
            cwd=REPO,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: the kernel and all go with it
        )
    lab = Lab(f"http://127.0.0.1:{port}", token, log_path)
    pgid = proc.pid
    try:
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while True:
            assert proc.poll() is None, f"JupyterLab exited with {proc.returncode}:\n{lab.log_tail()}"
            try:
                api(lab.base, "/api/status", token)
                break
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                assert time.monotonic() < deadline, (
                    f"no JupyterLab after {STARTUP_TIMEOUT} s:\n{lab.log_tail()}"
                )
                time.sleep(0.5)
        yield lab
    finally:
        # Kernels run in process groups of their own; their connection files, in our runtime dir, name them.
        kernels = lambda: processes_mentioning(str(tmp_path / "runtime"))  # noqa: E731
        lab.cpu_seconds = cpu_seconds(group_members(pgid) + kernels())
        left = stop_group(pgid)
        left += reap(kernels)  # the server shuts its kernels down as it stops: none should be left
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        shutil.copy(log_path, ARTIFACTS / f"{tmp_path.name}-lab.log")
    assert not left, f"JupyterLab left processes behind: {left}"


# ---------------------------------------------------------------- the browser


@contextmanager
def chromium(tmp_path: Path):
    """Yield a Playwright page in Debian's Chromium (fresh profile); close everything on every path and
    check that neither the browser nor Playwright's driver is left running."""
    from playwright.sync_api import sync_playwright

    root = tmp_path / "chromium"
    home = root / "home"  # the crash handler's database goes under HOME: keep it ours, and findable
    home.mkdir(parents=True)
    env = {**os.environ, "HOME": str(home), "XDG_CONFIG_HOME": str(home / ".config")}
    env["XDG_CACHE_HOME"] = str(home / ".cache")
    before = children_of(os.getpid())
    driver = sync_playwright().start()
    context = None
    try:
        context = driver.chromium.launch_persistent_context(
            str(root / "profile"),
            executable_path=str(CHROMIUM),
            headless=True,
            args=CHROMIUM_ARGS,
            env=env,
            viewport=VIEWPORT,
            timeout=UI_TIMEOUT_MS,
        )
        context.set_default_timeout(UI_TIMEOUT_MS)
        page = context.pages[0] if context.pages else context.new_page()
        page.off_loopback = []  # requests the page tried to send off this machine
        page.console_errors = []

        def on_request(request):
            url = urlsplit(request.url)
            if url.scheme in ("http", "https", "ws", "wss") and url.hostname not in (
                "127.0.0.1",
                "localhost",
            ):
                page.off_loopback.append(request.url)

        context.on("request", on_request)
        page.on("console", lambda m: m.type == "error" and page.console_errors.append(m.text))
        page.on("pageerror", lambda e: page.console_errors.append(f"uncaught: {e}"))
        yield page
    finally:
        try:
            if context is not None:
                context.close()
        finally:
            driver.stop()
            left = reap(lambda: processes_mentioning(str(root)))
            left += reap(lambda: sorted(children_of(os.getpid()) - before))  # Playwright's driver
    assert not left, f"the browser left processes behind: {left}"


# ---------------------------------------------------------------- what a learner does


def open_notebook(page, lab: Lab, notebook: str):
    """Open `notebook` and wait until its kernel is started and idle (accepting a kernel dialog if asked)."""
    page.goto(lab.url(notebook), wait_until="domcontentloaded", timeout=PAGE_TIMEOUT * 1000)
    page.locator(".jp-Notebook .jp-Cell").first.wait_for(timeout=PAGE_TIMEOUT * 1000)
    deadline = time.monotonic() + KERNEL_TIMEOUT
    while lab.kernel_state(notebook) != "idle":
        accept = page.locator(".jp-Dialog .jp-mod-accept")
        if accept.count() and accept.first.is_visible():  # "Select Kernel" for a notebook that names none
            accept.first.click()
        assert time.monotonic() < deadline, (
            f"the kernel did not start within {KERNEL_TIMEOUT} s:\n{lab.log_tail()}"
        )
        time.sleep(0.5)


CELLS_JS = """() => Array.from(document.querySelectorAll('.jp-Notebook .jp-CodeCell')).map(cell => [
    (cell.querySelector('.jp-InputPrompt')?.innerText || '').trim(),
    (cell.querySelector('.jp-InputArea-editor')?.innerText || '').trim() !== ''])"""


def prompts(page) -> list[str]:
    """The input prompts of the code cells that have code: "[3]:", "[*]:" (queued or running), "[ ]:"."""
    return [prompt for prompt, has_code in page.evaluate(CELLS_JS) if has_code]


def run_all_cells(page, lab: Lab, notebook: str) -> float:
    """Run → Run All Cells, then wait until the run has started, no cell is queued or running any more and
    the kernel has stayed idle for a few seconds. (A saved notebook already shows execution counts, so only
    a run seen under way counts.)"""
    start = time.monotonic()
    page.locator(".lm-MenuBar-item", has_text=re.compile(r"^\s*Run\s*$")).click()
    item = page.locator(".lm-Menu-content .lm-Menu-item", has_text=re.compile(r"^\s*Run All Cells\s*$"))
    assert "lm-mod-disabled" not in (item.get_attribute("class") or ""), "Run All Cells is disabled"
    item.click()
    deadline = start + RUN_ALL_TIMEOUT
    started, idle_polls = False, 0
    while idle_polls < 3:
        shown = prompts(page)
        busy = any("*" in p for p in shown)
        state = lab.kernel_state(notebook)
        started = started or busy or state == "busy"
        idle_polls = idle_polls + 1 if started and not busy and state == "idle" else 0
        assert time.monotonic() < deadline, (
            f"Run All {'did not finish' if started else 'did not start'} in {RUN_ALL_TIMEOUT} s: "
            f"kernel {state}, prompts {shown}"
        )
        time.sleep(1)
    return time.monotonic() - start


ERRORS_JS = """() => Array.from(document.querySelectorAll('.jp-OutputArea-output')).filter(o => {
    const text = o.innerText || '';
    const stderr = o.getAttribute('data-mime-type') === 'application/vnd.jupyter.stderr';
    return (stderr && /Traceback|\\w*Error\\b|Exception\\b/.test(text)) || /Error displaying widget/.test(text);
}).map(o => o.innerText.slice(0, 3000))"""

PICTURE_DRAWN_JS = """() => Array.from(document.querySelectorAll('.jp-RenderedImage img'))
    .some(i => i.complete && i.naturalWidth > 0)"""


def check_outputs(page):
    """No cell shows an error; every cell ran; at least one picture is drawn."""
    errors = page.evaluate(ERRORS_JS)
    assert not errors, "a cell shows an error:\n\n" + "\n\n".join(errors)
    shown = prompts(page)
    counts = [int(m.group(1)) if (m := re.search(r"\[(\d+)\]", p)) else None for p in shown]
    assert None not in counts and counts == sorted(set(counts)), f"not every cell ran, in order: {shown}"
    page.wait_for_function(PICTURE_DRAWN_JS, timeout=UI_TIMEOUT_MS)


def explorer_box(page):
    """The first explorer in the page (the widget box that holds a Generate button), as an element handle:
    a locator by the button's text would stop matching while the button reads "Generating…"."""
    generate = page.locator("button.widget-button", has_text="Generate")
    box = page.locator(".jp-OutputArea-output .widget-vbox", has=generate).first
    box.wait_for()
    return box.element_handle()


def use_the_explorer(page, prompt: str):
    """Type `prompt` into the first explorer, press Generate, wait for the new picture and settings line;
    returns the explorer (an element handle), its settings line and the seconds it took."""
    box = explorer_box(page)
    text_box = box.evaluate_handle(
        """box => Array.from(box.querySelectorAll('.widget-text'))
            .find(t => (t.querySelector('label')?.innerText || '').trim() === 'prompt')?.querySelector('input')"""
    ).as_element()
    button = box.query_selector("button.widget-button")
    picture = box.query_selector("img.widget-image")
    statuses = box.query_selector_all(".widget-html-content")
    assert text_box and button and picture and statuses, (
        "the explorer lacks its prompt, button, picture or line"
    )
    status = statuses[-1]
    old_src, old_line = picture.get_attribute("src"), status.inner_text()
    assert old_src and picture.evaluate("i => i.complete && i.naturalWidth > 0"), (
        "the explorer shows no picture"
    )
    assert prompt not in old_line, old_line

    start = time.monotonic()
    text_box.fill(prompt)
    button.click()
    wanted = f"prompt={prompt!r}"
    page.wait_for_function(
        """([img, status, button, oldSrc, wanted]) => img.src !== oldSrc && img.complete && img.naturalWidth > 0
            && status.innerText.includes(wanted) && !button.disabled && button.innerText.trim() === 'Generate'""",
        arg=[picture, status, button, old_src, wanted],
        timeout=GENERATE_TIMEOUT * 1000,
        polling=500,
    )
    return box, status.inner_text(), time.monotonic() - start


def drive(page, lab: Lab, notebook: str, name: str) -> dict:
    """The whole visit; saves <name>-run-all.png and <name>-explorer.png, and <name>-failure.png on failure."""
    timings = {}
    try:
        t = time.monotonic()
        open_notebook(page, lab, notebook)
        timings["open"] = time.monotonic() - t
        timings["run all"] = run_all_cells(page, lab, notebook)
        check_outputs(page)
        first = page.locator(".jp-RenderedImage img").first
        first.evaluate("e => e.scrollIntoView({block: 'center'})")
        page.screenshot(path=ARTIFACTS / f"{name}-run-all.png")

        box, line, timings["generate"] = use_the_explorer(page, NEW_PROMPT)
        assert f"prompt={NEW_PROMPT!r}" in line
        sizes = box.query_selector("img.widget-image").evaluate(
            "i => [i.naturalWidth, i.naturalHeight, i.clientWidth, i.clientHeight]"
        )
        print(f"{name}: explorer picture {sizes[0]}x{sizes[1]} px, shown at {sizes[2]}x{sizes[3]}")
        box.evaluate("e => (e.closest('.jp-Cell') || e).scrollIntoView({block: 'start'})")
        page.screenshot(path=ARTIFACTS / f"{name}-explorer.png")
        assert page.evaluate(ERRORS_JS) == [], "an error appeared while using the explorer"
    except BaseException:
        try:
            page.screenshot(path=ARTIFACTS / f"{name}-failure.png")
        except Exception:  # noqa: BLE001 - the original failure matters more
            pass
        raise
    assert not page.off_loopback, f"the page tried to reach the network: {page.off_loopback}"
    return timings


def visit(tmp_path: Path, notebook: str, name: str, root_dir: Path | None = None) -> dict:
    """Start JupyterLab and Chromium, drive the notebook, stop both; print and save what it took."""
    start = time.monotonic()
    with jupyter_lab(tmp_path, root_dir) as lab, chromium(tmp_path) as page:
        timings = drive(page, lab, notebook, name)
        console = list(page.console_errors)
    timings["total"] = time.monotonic() - start
    summary = {"seconds": {k: round(v, 1) for k, v in timings.items()}, "cpu_seconds": lab.cpu_seconds}
    summary["browser_console_errors"] = console  # not failures: JupyterLab logs a few of its own
    (ARTIFACTS / f"{name}-timings.json").write_text(json.dumps(summary, indent=1))
    print(f"{name}: " + ", ".join(f"{k} {v:.0f} s" for k, v in timings.items()), end="; ")
    print(f"JupyterLab and its kernel used {lab.cpu_seconds:.0f} s of CPU")
    return summary


# ---------------------------------------------------------------- the tests

FIXTURE_CELLS = [
    (
        "markdown",
        "# The explorer in a browser\nA throwaway notebook written by tests/browser/test_browser.py.",
    ),
    (
        "code",
        "from course_utils.display import image_grid\n"
        "from course_utils.generation import generate\n"
        "from course_utils.pipeline import load_pipeline\n"
        "from course_utils.widgets import explorer\n\n"
        'pipe = load_pipeline("mini")',
    ),
    ("code", 'image_grid(generate(pipe, "a large red circle on a blue background", n=2, steps=8), scale=3)'),
    ("code", "ex = explorer(pipe, steps=8, n=2)\nex"),
]


def write_fixture_notebook(path: Path) -> None:
    import nbformat

    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {
        "display_name": "Python 3 (ipykernel)",
        "language": "python",
        "name": "python3",
    }
    for kind, source in FIXTURE_CELLS:
        nb.cells.append(
            nbformat.v4.new_markdown_cell(source) if kind == "markdown" else nbformat.v4.new_code_cell(source)
        )
    nbformat.write(nb, path)


@pytest.fixture
def artifacts():
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS


@pytest.mark.skipif(
    not has_explorer(LESSON), reason=f"{LESSON.relative_to(REPO)} is not written yet, or shows no explorer"
)
def test_first_lesson_in_a_browser(browser_ready, artifacts, tmp_path):
    digest = hashlib.sha256(LESSON.read_bytes()).hexdigest()
    checkpoints = NOTEBOOKS / ".ipynb_checkpoints"
    had_checkpoints = checkpoints.exists()
    try:
        visit(tmp_path, LESSON.name, "00_first_image")
    finally:
        if not had_checkpoints:  # JupyterLab's checkpoint of the lesson, if it made one
            shutil.rmtree(checkpoints, ignore_errors=True)
    assert hashlib.sha256(LESSON.read_bytes()).hexdigest() == digest, (
        f"{LESSON.name} changed during the browser run (saved by JupyterLab, or edited meanwhile)"
    )


@pytest.mark.skipif(
    has_explorer(LESSON) and not os.environ.get("COURSE_BROWSER_FIXTURE"),
    reason="test_first_lesson_in_a_browser covers the explorer (COURSE_BROWSER_FIXTURE=1 runs this too)",
)
def test_explorer_in_a_browser(browser_ready, artifacts, tmp_path):
    served = tmp_path / "served"
    served.mkdir()
    write_fixture_notebook(served / "explorer.ipynb")
    visit(tmp_path, "explorer.ipynb", "fixture", root_dir=served)
