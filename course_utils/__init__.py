"""Support package for the Stable Diffusion course: see the README for the course map."""

import os

# Idle OpenMP threads wait for work by sleeping, not spinning. torch's default (spinning) made the course's
# tiny models 2 to 50 times slower on a shared CPU (2 cores, other jobs running): each of thousands of small
# operations waited for a descheduled thread. It must be set before torch loads, which is why it is here;
# a value you set yourself wins.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

__version__ = "0.1.0"
