"""How torch's idle OpenMP threads wait for their next piece of work, chosen once, before torch loads.

OpenMP reads ``OMP_WAIT_POLICY`` when torch is first imported, so the choice must come first: every lesson's
setup cell calls ``runtime.describe()``, which calls ``choose_wait_policy()`` before it imports torch. Nothing
here imports torch, and importing this module does nothing.

Measured on 2 cores with the bundled model:
- on a machine of its own, OpenMP's default (a short spin, then sleep) is twice as fast as sleeping at once:
  4 pictures 0.50 s against 1.13 s, 12 fine-tuning steps 1.5 s against 3.0 s;
- beside another busy process (torch runs a thread per core, and each step waits for the slowest of them),
  spinning collapses: the 12 steps took 122 s against 2.9 s sleeping.
So a kernel that starts on a busy machine sleeps (PASSIVE). A value you set yourself always wins, and
`make test`, which runs two notebooks at once, sets PASSIVE for all of them.
"""

from __future__ import annotations

import os
import sys
import time


def _cpu_ticks() -> tuple[int, int] | None:
    """(busy, total) CPU time of the whole machine so far, in clock ticks, from /proc/stat (Linux only)."""
    try:
        with open("/proc/stat") as f:
            fields = [int(x) for x in f.readline().split()[1:]]
    except (OSError, ValueError):
        return None
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait
    total = sum(fields[:8])  # guest time is already counted in user time
    return total - idle, total


def others_busy(window: float = 0.1) -> float | None:
    """How many CPUs other processes keep busy right now: the machine's busy time over `window` seconds, less
    this process's own. None where the machine does not say (no /proc/stat)."""
    before, own = _cpu_ticks(), time.process_time()
    if before is None:
        return None
    time.sleep(window)
    after, own = _cpu_ticks(), time.process_time() - own
    if after is None or after[1] <= before[1]:
        return None
    busy = (after[0] - before[0]) / os.sysconf("SC_CLK_TCK")
    return max(0.0, busy - own) / window


def machine_is_busy(busy: float | None = None) -> bool:
    """True when other work keeps half a CPU or more busy: measured now on Linux (`others_busy`), else read from
    the 1-minute load average."""
    if busy is None:
        busy = others_busy()
    if busy is None:
        try:
            busy = os.getloadavg()[0]
        except (AttributeError, OSError):  # neither (Windows): assume the machine is ours
            return False
    return busy >= 0.5


def choose_wait_policy() -> str | None:
    """Set ``OMP_WAIT_POLICY=PASSIVE`` when the machine is busy and nobody chose a policy, before torch loads.

    Returns the policy in force afterwards (None: OpenMP's default). Once torch is loaded the policy is fixed
    for this process, so then nothing is measured or set.
    """
    if "OMP_WAIT_POLICY" not in os.environ and "torch" not in sys.modules and machine_is_busy():
        os.environ["OMP_WAIT_POLICY"] = "PASSIVE"
    return os.environ.get("OMP_WAIT_POLICY")
