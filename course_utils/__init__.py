"""Support package for the Stable Diffusion course: see the README for the course map.

Importing it does no work: each lesson's setup cell calls ``runtime.describe()``, which chooses how torch's
threads wait (``threads``) before torch loads, and prints where the lesson runs.
"""

__version__ = "0.1.0"
