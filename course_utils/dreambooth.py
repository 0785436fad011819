"""DreamBooth's training set: a few pictures of a subject, captioned with a rare token and its class word, and,
for prior preservation, pictures of the class that the model draws itself, weighted into the same loss.

    from course_utils.dreambooth import class_images, class_prompts, prior_preservation_data
    from course_utils.finetune import finetune
    subject = [(image, "a small red sks circle on a black background"), ...]   # 4-8 pictures
    prompts = class_prompts([c for _, c in subject], "sks", repeats=8)      # "a small red circle on a black …"
    classes = class_images(pipe, prompts, seed=5000)
    data = prior_preservation_data(subject, classes, prior_weight=1.0)        # (image, caption, weight)
    finetune(pipe, data, train=["unet", "text_encoder"], steps=300)

The paper's loss (Ruiz et al., 2023) is  subject loss + λ · class loss,  each batch half subject pictures, half
class pictures. ``course_utils.finetune`` draws its examples uniformly and scales each one's loss by its weight,
so the same loss is a weighting of the data: the class pictures carry the weight λ (``prior_weight``) and the
few subject pictures are repeated until they make about half of the examples (``subject_share``).

The class prompts are the subject's captions without the token (the paper's "a [V] dog" and "a dog"): then the
token is the only difference between a subject example and a class example, and the only thing that can tell
the model which of the two to draw.
"""

from __future__ import annotations

from numbers import Real

from .generation import generate_each


def class_images(pipe, prompts, *, seed: int = 0, steps: int = 20, guidance: float = 3.0,
                 batch_size: int = 32) -> list[tuple]:
    """The model's own pictures of the class, one per prompt, as ``(image, prompt)`` pairs: the "prior" that
    prior preservation keeps. Made *before* fine-tuning, from the model that is about to be fine-tuned;
    picture k comes from seed ``seed + k``. Use the sampling settings you use for the model (here guidance 3)."""
    images = generate_each(pipe, prompts, seed=seed, steps=steps, guidance=guidance, batch_size=batch_size)
    return list(zip(images, [prompts] if isinstance(prompts, str) else list(prompts), strict=True))


def class_prompts(captions, token: str, *, repeats: int = 1) -> list[str]:
    """The class prompts for prior preservation: each subject caption with the rare ``token`` taken out
    ("a red sks circle on a black background" -> "a red circle on a black background"), the whole list
    ``repeats`` times over (``class_images`` gives every copy its own seed, so its own picture)."""
    if not isinstance(token, str) or len(token.split()) != 1:
        raise ValueError(f"token must be one word such as 'sks', not {token!r}")
    if isinstance(repeats, bool) or not isinstance(repeats, int) or repeats < 1:
        raise ValueError(f"repeats must be a whole number of at least 1, not {repeats!r}")
    if isinstance(captions, str):
        captions = [captions]
    captions = list(captions)
    if not captions:
        raise ValueError("no captions: give the subject's captions, e.g. ['a red sks circle']")
    out = []
    for i, caption in enumerate(captions):
        if not isinstance(caption, str):
            raise TypeError(f"caption {i} must be a string, not {type(caption).__name__}")
        words = caption.split()
        if token not in words:
            raise ValueError(f"caption {i} ({caption!r}) does not contain the token {token!r}: the subject's "
                             f"captions name it with the token, e.g. 'a red {token} circle'")
        rest = [w for w in words if w != token]
        if not rest:
            raise ValueError(f"caption {i} ({caption!r}) is the token alone: add the class word, 'a {token} circle'")
        out.append(" ".join(rest))
    return out * repeats


def prior_preservation_data(subject, classes=(), *, prior_weight: float = 1.0,
                            subject_share: float = 0.5) -> list[tuple]:
    """DreamBooth's data for ``course_utils.finetune``: a list of ``(image, caption, weight)``.

    subject: the subject's ``(image, caption)`` pairs, captions with the rare token ("a red sks circle").
    classes: ``(image, caption)`` pairs of the class ("a red circle"), e.g. from ``class_images``; empty gives
        the subject alone (DreamBooth *without* prior preservation).
    prior_weight: λ, the weight of each class picture's loss (the paper uses 1); 0 keeps the pictures but
        lets them teach nothing.
    subject_share: about this share of the examples (and so of every batch) are subject pictures: they are
        repeated ``round(share / (1 - share) · len(classes) / len(subject))`` times, at least once.
    """
    subject = _pairs("subject", subject)
    classes = _pairs("classes", classes, allow_empty=True)
    if isinstance(prior_weight, bool) or not isinstance(prior_weight, Real) or not prior_weight >= 0:
        raise ValueError(f"prior_weight must be a number of at least 0 (the paper uses 1), not {prior_weight!r}")
    if isinstance(subject_share, bool) or not isinstance(subject_share, Real) or not 0 < subject_share < 1:
        raise ValueError(f"subject_share must be between 0 and 1 (0.5: half the examples), not {subject_share!r}")
    clash = sorted({c for _, c in subject} & {c for _, c in classes})
    if clash:
        raise ValueError(f"a class caption is also a subject caption ({clash[0]!r}): the subject's captions must "
                         "name it with its rare token (\"a sks circle\"), the class captions without it (\"a circle\")")
    if not classes:
        return [(image, text, 1.0) for image, text in subject]
    repeats = max(1, round(subject_share / (1 - subject_share) * len(classes) / len(subject)))
    return ([(image, text, 1.0) for image, text in subject] * repeats
            + [(image, text, float(prior_weight)) for image, text in classes])


def _pairs(name: str, items, allow_empty: bool = False) -> list[tuple]:
    if isinstance(items, (str, bytes)) or not hasattr(items, "__len__"):
        raise TypeError(f"{name} must be a list of (image, caption) pairs, not {type(items).__name__}")
    items = list(items)
    if not items and not allow_empty:
        raise ValueError(f"{name} is empty: give at least one (image, caption) pair (DreamBooth uses 4-8)")
    for i, item in enumerate(items):
        if not isinstance(item, (tuple, list)) or len(item) != 2:
            raise ValueError(f"{name}[{i}] must be an (image, caption) pair, not {item!r:.80}")
        if not isinstance(item[1], str) or not item[1].strip():
            raise TypeError(f"{name}[{i}]: the caption must be a non-empty string, not {item[1]!r}")
    return [tuple(item) for item in items]
