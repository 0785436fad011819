"""Support package for the Stable Diffusion course: see the README for the course map.

Importing it loads nothing heavy: it only checks, from package metadata, that the libraries the lessons need are
new enough (``versions``), so that a wrong version fails here with the pip line that fixes it, not deep inside a
lesson. Each lesson's setup cell then calls ``runtime.describe()``, which chooses how torch's threads wait
(``threads``) before torch loads, and prints where the lesson runs.
"""

from . import versions

__version__ = "0.1.0"
versions.check()
