"""course_utils chooses how torch's idle OpenMP threads wait, before torch loads: the default short spin on a
machine of its own, sleeping at once (OMP_WAIT_POLICY=PASSIVE) when other work keeps half a CPU or more busy;
a policy the user set wins."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest

import course_utils

CODE = "import os, course_utils, torch; print(os.environ.get('OMP_WAIT_POLICY'))"


def _policy(env_value: str | None) -> str:
    env = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"}
    if env_value is not None:
        env["OMP_WAIT_POLICY"] = env_value
    out = subprocess.run([sys.executable, "-c", CODE], env=env, capture_output=True, text=True, check=True)
    return out.stdout.strip()


def test_busy_means_half_a_cpu_taken_by_others():
    assert course_utils.machine_is_busy(busy=0.5) and course_utils.machine_is_busy(busy=3.0)
    assert not course_utils.machine_is_busy(busy=0.4) and not course_utils.machine_is_busy(busy=0.0)


def test_others_busy_sees_a_busy_process():
    spinner = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        time.sleep(0.5)
        got = course_utils.others_busy(window=0.3)
    finally:
        spinner.kill()
    if got is None:
        pytest.skip("this system has no /proc/stat: the load average decides instead")
    assert 0.7 <= got <= 2.5  # about one CPU (other tests may run beside it)


def test_a_kernel_beside_a_busy_process_sleeps():
    if course_utils.others_busy() is None:
        pytest.skip("this system has no /proc/stat: the load average decides instead")
    spinner = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        time.sleep(0.5)
        assert _policy(None) == "PASSIVE"
    finally:
        spinner.kill()


def test_a_policy_the_user_set_wins():
    assert _policy("ACTIVE") == "ACTIVE"
    assert _policy("PASSIVE") == "PASSIVE"
