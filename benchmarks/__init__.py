"""How long a learner waits: timed runs of the notebooks, the bundled model, the training loops and (on a GPU)
Stable Diffusion 1.5's architecture. `make bench` runs them all; see `python -m benchmarks --help`.

These are benchmarks, not tests: they measure and report, and nothing fails because a machine is slow.
"""

# First, as every lesson's setup cell does (through runtime.describe()): choose torch's thread policy
# (OMP_WAIT_POLICY) before torch loads, so every part here, and every subprocess and notebook kernel it starts,
# runs under the learner's settings.
from course_utils import threads

threads.choose_wait_policy()
