"""Measure what a fine-tune did, with the judge: the share of pictures that pass a test, for fixed prompts and
fixed seeds, so that a "before" and an "after" can be compared picture by picture.

    from course_utils.measure import measure, drift
    is_circle = lambda v: v.shape == "circle"
    before = measure(pipe, prompts, is_circle)        # the class word, before training
    ...                                               # fine-tune
    after = measure(pipe, prompts, is_circle)         # the same prompts and seeds, after
    print(before, after)                              # 0.96 (23/24) 0.12 (3/24)
    drift(before, after)                              # {'before': 0.96, 'after': 0.12, 'lost': 0.83, 'gained': 0.0}

A picture passes when ``test(verdict)`` is true (any function of the judge's ``Verdict``, e.g.
``judge.is_subject``) and it shows every attribute in ``as_asked`` that its prompt names (read with
``shapes.scene_from_caption``): ``as_asked=("colour", "background")`` asks for the colours the prompt says.
Lesson 10 measures a new subject with its token, the drift of the class word, and the subject in new colours
this way; a style (``judge.is_styled``) or a concept (``judge.is_concept``) is measured the same way.
"""

from __future__ import annotations

from dataclasses import dataclass

from . import judge, shapes

ASKABLE = ("shape", "colour", "background", "size", "style")


@dataclass(frozen=True)
class Measurement:
    """The pictures made for ``prompts`` (picture k from seed ``seed + k``), the judge's verdicts, and which passed."""

    prompts: tuple[str, ...]
    images: tuple
    verdicts: tuple
    passed: tuple[bool, ...]

    @property
    def n(self) -> int:
        return len(self.passed)

    @property
    def rate(self) -> float:
        """The share of pictures that passed, 0 to 1."""
        return sum(self.passed) / self.n

    def __str__(self) -> str:
        return f"{self.rate:.2f} ({sum(self.passed)}/{self.n})"


def score(images, prompts, test=None, *, as_asked=()) -> Measurement:
    """Judge pictures already made (one per prompt) and keep which pass ``test`` and ``as_asked`` (see above)."""
    prompts = _prompts(prompts)
    images = list(images)
    if len(images) != len(prompts):
        raise ValueError(f"{len(images)} pictures for {len(prompts)} prompts: give one prompt per picture")
    as_asked = _as_asked(as_asked)
    if test is None and not as_asked:
        raise ValueError("say what a picture must show: a test such as judge.is_subject, or as_asked=('colour',)")
    if test is not None and not callable(test):
        raise TypeError(f"test must be a function of the judge's Verdict (e.g. judge.is_subject), not {test!r}")
    verdicts = judge.judge_many(images)
    passed = []
    for verdict, prompt in zip(verdicts, prompts, strict=True):
        named = shapes.scene_from_caption(prompt)
        asked = {k: named[k] for k in as_asked if named[k] is not None}
        passed.append(bool((test is None or test(verdict)) and judge.matches(verdict, asked)))
    return Measurement(tuple(prompts), tuple(images), tuple(verdicts), tuple(passed))


def measure(pipe, prompts, test=None, *, as_asked=(), seed: int = 0, steps: int = 20, guidance: float = 3.0,
            batch_size: int = 32) -> Measurement:
    """Make one picture per prompt (``generation.generate_each``) and ``score`` them: the same prompts and seed before and after
    a fine-tune give a paired comparison (``drift``). Guidance 3 is the mini model's sweet spot (lesson 06)."""
    as_asked = _as_asked(as_asked)  # check the cheap arguments before making any picture
    if test is None and not as_asked:
        raise ValueError("say what a picture must show: a test such as judge.is_subject, or as_asked=('colour',)")
    from .generation import generate_each

    images = generate_each(pipe, _prompts(prompts), seed=seed, steps=steps, guidance=guidance,
                           batch_size=batch_size)
    return score(images, prompts, test, as_asked=as_asked)


def drift(before: Measurement, after: Measurement) -> dict:
    """How a measurement changed between two runs of the same prompts and seeds: the rates before and after,
    and the shares of pictures that ``lost`` the test (passed before, fail after) and ``gained`` it."""
    for name, m in (("before", before), ("after", after)):
        if not isinstance(m, Measurement):
            raise TypeError(f"{name} must be a Measurement (from measure or score), not {type(m).__name__}")
    if before.prompts != after.prompts:
        raise ValueError("before and after were measured on different prompts: measure the same prompts "
                         "with the same seed, so that each picture is compared with its own earlier version")
    n = before.n
    return {"before": before.rate, "after": after.rate,
            "lost": sum(b and not a for b, a in zip(before.passed, after.passed, strict=True)) / n,
            "gained": sum(a and not b for b, a in zip(before.passed, after.passed, strict=True)) / n}


def _prompts(prompts) -> list[str]:
    if isinstance(prompts, str):
        prompts = [prompts]
    prompts = list(prompts)
    if not prompts:
        raise ValueError("no prompts: give a list of at least one prompt")
    for i, p in enumerate(prompts):
        if not isinstance(p, str):
            raise TypeError(f"prompt {i} must be a string, not {type(p).__name__} {p!r}")
        if not p.strip():
            raise ValueError(f"prompt {i} is empty: describe the picture, e.g. 'a large red circle'")
    return prompts


def _as_asked(as_asked) -> tuple[str, ...]:
    items = (as_asked,) if isinstance(as_asked, str) else tuple(as_asked)
    unknown = [k for k in items if k not in ASKABLE]
    if unknown:
        hint = " (spelled 'colour')" if "color" in unknown else ""
        raise ValueError(f"as_asked names {unknown}{hint}: choose among {', '.join(ASKABLE)}")
    return items
