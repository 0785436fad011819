"""Support package for the Stable Diffusion course: see the README for the course map."""

__version__ = "0.1.0"
