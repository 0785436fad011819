"""course_utils sets OMP_WAIT_POLICY=PASSIVE before torch loads (idle threads sleep instead of spinning),
unless the user chose a policy."""

from __future__ import annotations

import os
import subprocess
import sys

CODE = "import os, course_utils, torch; print(os.environ.get('OMP_WAIT_POLICY'))"


def _policy(env_value: str | None) -> str:
    env = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"}
    if env_value is not None:
        env["OMP_WAIT_POLICY"] = env_value
    out = subprocess.run([sys.executable, "-c", CODE], env=env, capture_output=True, text=True, check=True)
    return out.stdout.strip()


def test_passive_by_default():
    assert _policy(None) == "PASSIVE"


def test_a_policy_the_user_set_wins():
    assert _policy("ACTIVE") == "ACTIVE"
