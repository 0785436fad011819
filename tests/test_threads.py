"""How torch's idle OpenMP threads wait is chosen by `runtime.describe()` (through `threads`) before torch loads:
OpenMP's default short spin on a machine of its own, sleeping at once (OMP_WAIT_POLICY=PASSIVE) when other work
keeps half a CPU or more busy; a policy the user set wins. Importing the package does no work."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest

from course_utils import threads

DESCRIBE = ("import os; from course_utils import runtime; runtime.describe(); "
            "print(os.environ.get('OMP_WAIT_POLICY'))")
IMPORT = ("import os, time; t = time.perf_counter(); import course_utils, course_utils.runtime; "
          "print(os.environ.get('OMP_WAIT_POLICY'), 'torch' in __import__('sys').modules, time.perf_counter() - t)")


def _run(code: str, env_value: str | None = None) -> str:
    env = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"}
    if env_value is not None:
        env["OMP_WAIT_POLICY"] = env_value
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    return out.stdout.strip().splitlines()[-1]


def _spinner():
    if threads.others_busy() is None:
        pytest.skip("this system has no /proc/stat: the load average decides instead")
    spinner = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    time.sleep(0.5)
    return spinner


def test_busy_means_half_a_cpu_taken_by_others():
    assert threads.machine_is_busy(busy=0.5) and threads.machine_is_busy(busy=3.0)
    assert not threads.machine_is_busy(busy=0.4) and not threads.machine_is_busy(busy=0.0)


def test_others_busy_sees_a_busy_process():
    spinner = _spinner()
    try:
        got = threads.others_busy(window=0.3)
    finally:
        spinner.kill()
    assert 0.7 <= got <= 2.5  # about one CPU (other tests may run beside it)


def test_describe_beside_a_busy_process_lets_threads_sleep():
    spinner = _spinner()
    try:
        assert _run(DESCRIBE) == "PASSIVE"
    finally:
        spinner.kill()


def test_importing_the_package_does_no_work():
    spinner = _spinner()  # a busy machine: the old import-time choice would have set PASSIVE here
    try:
        policy, torch_loaded, seconds = _run(IMPORT).split()
    finally:
        spinner.kill()
    assert policy == "None" and torch_loaded == "False"  # nothing measured, nothing set, torch not loaded
    assert float(seconds) < 0.5


def test_a_policy_the_user_set_wins():
    assert _run(DESCRIBE, "ACTIVE") == "ACTIVE"
    assert _run(DESCRIBE, "PASSIVE") == "PASSIVE"


def test_no_choice_once_torch_is_loaded(monkeypatch):
    monkeypatch.delenv("OMP_WAIT_POLICY", raising=False)
    monkeypatch.setattr(threads, "machine_is_busy", lambda busy=None: True)
    import torch  # noqa: F401  (already loaded in this test process: the policy is fixed)

    assert threads.choose_wait_policy() is None and "OMP_WAIT_POLICY" not in os.environ
