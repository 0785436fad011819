"""What the loaded model draws, and so what a lesson can measure and how many pictures it makes.

The course's judge (`judge`, `scoring`) reads pictures of the shapes world: one flat shape on a flat background.
The bundled mini model draws that world, so there the lessons measure what they teach over many pictures. A real
Stable Diffusion checkpoint draws anything, so on it a judge-based check says in one line what it would measure
and why it can't, and the lesson shows a few pictures to look at instead:

    from course_utils import world
    N = world.pictures(pipe, 64)             # 64 on the mini model; a few to look at on any other
    if world.judge_measures(pipe, "guidance makes more pictures follow short prompts"):
        assert short[3.0] > short[1.0]       # measured only where the judge can read the pictures
"""

from __future__ import annotations

from . import runtime

SHAPES_WORLD_MODELS = ("mini",)  # the models trained on the shapes world (`pipe.course_model`)
FEW = 4  # pictures a lesson shows on a model the judge cannot read (2 in quick mode)


def draws_shapes(pipe) -> bool:
    """True for a pipeline loaded from a model that was trained on the shapes world (the bundled "mini")."""
    return getattr(pipe, "course_model", None) in SHAPES_WORLD_MODELS


def judge_measures(pipe, what: str) -> bool:
    """True when the shapes-world judge can measure `pipe`'s pictures. Otherwise print one line saying what the
    check would measure and why it can't here, and return False, so that the lesson skips only that check."""
    if draws_shapes(pipe):
        return True
    model = getattr(pipe, "course_model", None) or "this model"
    print(f"not measured on {model}: {what} (the judge reads only the shapes world's flat pictures; "
          "look at the pictures instead)")
    return False


def pictures(pipe, n: int, few: int | None = None) -> int:
    """How many pictures a lesson makes where the mini model makes `n`: all `n` where the judge measures them,
    else `few` to look at (default FEW, halved in quick mode), never more than `n`."""
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"n must be a whole number of pictures, at least 1, not {n!r}")
    if draws_shapes(pipe):
        return n
    few = (FEW // 2 if runtime.quick_mode() else FEW) if few is None else few
    return max(1, min(n, few))
