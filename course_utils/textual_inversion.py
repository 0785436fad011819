"""Textual inversion (lesson 09): a new word for a concept, learned as rows of the text encoder's embeddings.

    from course_utils import textual_inversion as ti
    ti.add_token(pipe, "<my-concept>", init_from="heart")          # a new token, starting as "heart"
    matrix = pipe.text_encoder.get_input_embeddings().weight     # the embedding matrix it is a row of
    finetune(pipe, data, train=[matrix], on_step=ti.RestoreOthers(pipe, "<my-concept>"), ...)
    ti.save_embedding(pipe, "<my-concept>", "outputs/learned_embeds.safetensors")
    fresh.load_textual_inversion("outputs/learned_embeds.safetensors")   # diffusers reads it back

A token may have several vectors (``init_from=["heart", "orange"]``): diffusers' convention, which its
loader and pipelines follow, names them ``<my-concept>``, ``<my-concept>_1``, … and the pipelines expand the
placeholder in a prompt into all of them (``pipe.maybe_convert_prompt``).

transformers and diffusers do most of the work: ``tokenizer.add_tokens`` adds the token,
``text_encoder.resize_token_embeddings`` grows the matrix, and ``pipe.load_textual_inversion`` loads the
saved file. What this module adds: the checks a learner needs (new tokens, initial words that are one token
each), the initial rows, the hook that puts every other row back after each optimizer step (the optimizer
updates the whole matrix: weight decay and momentum move rows whose gradient is zero), and saving in the
format ``load_textual_inversion`` expects: a safetensors file holding ``{token: tensor (vectors, dim)}``.
"""

from __future__ import annotations

from pathlib import Path

import torch

WEIGHTS_NAME = "learned_embeds.safetensors"  # the file name diffusers looks for in a folder


def _embeddings(pipe) -> torch.nn.Parameter:
    for name in ("tokenizer", "text_encoder"):
        if getattr(pipe, name, None) is None:
            raise TypeError(f"pipe must be a Stable Diffusion pipeline with a {name}: load it with load_pipeline()")
    return pipe.text_encoder.get_input_embeddings().weight


def vector_names(token: str, n: int) -> list[str]:
    """The names of a token's ``n`` vectors, as diffusers names them: ``<t>``, ``<t>_1``, ``<t>_2``, …"""
    return [token] + [f"{token}_{i}" for i in range(1, n)]


def token_ids(pipe, token: str) -> list[int]:
    """The ids of an added token's vectors (one id for a one-vector token), with a clear error when it is missing."""
    if not isinstance(token, str) or not token.strip():
        raise TypeError(f"token must be a non-empty string such as '<my-concept>', not {token!r}")
    _embeddings(pipe)
    added = pipe.tokenizer.get_added_vocab()
    if token not in added:
        raise ValueError(f"{token!r} is not an added token of this tokenizer: add it with add_token(pipe, "
                         f"{token!r}, init_from=...) or load it with pipe.load_textual_inversion(...)")
    ids = [added[token]]
    while f"{token}_{len(ids)}" in added:
        ids.append(added[f"{token}_{len(ids)}"])
    return ids


def add_token(pipe, token: str, init_from) -> list[int]:
    """Add ``token`` to ``pipe``'s tokenizer and its rows to the text encoder's embeddings, each a copy of the
    row of a word the model knows; returns the new ids. The rest of the model is left as it was.

    token: a placeholder the tokenizer does not know, lower case, without spaces, e.g. "<my-concept>".
    init_from: a word the tokenizer holds as one token ("heart"): one vector, a copy of that word's. Or a
        list of such words (["heart", "orange"]): one vector each, named as diffusers names them.
    """
    weight = _embeddings(pipe)
    tokenizer = pipe.tokenizer
    if not isinstance(token, str) or not token or token != token.strip() or " " in token:
        raise ValueError(f"token must be one word without spaces, such as '<my-concept>', not {token!r}")
    if token != token.lower():
        raise ValueError(f"token must be lower case ({token.lower()!r}): CLIP's tokenizer lower-cases every prompt")
    words = [init_from] if isinstance(init_from, str) else init_from
    if not isinstance(words, (list, tuple)) or not words or not all(isinstance(w, str) and w.strip() for w in words):
        raise TypeError(f"init_from must be a word the model knows, such as 'heart', or a list of them, "
                        f"not {init_from!r}")
    init_ids = []
    for word in words:
        ids = tokenizer(word, add_special_tokens=False).input_ids
        if len(ids) != 1:
            pieces = ", ".join(tokenizer.convert_ids_to_tokens(ids))
            raise ValueError(f"init_from word {word!r} is {len(ids)} tokens for this tokenizer ({pieces}): pick a "
                             "word it holds whole (tokenizer.tokenize(word) gives one token)")
        init_ids += ids
    names = vector_names(token, len(words))
    for name in names:
        if name in tokenizer.get_vocab():
            raise ValueError(f"{name!r} is already in the tokenizer: pick another placeholder, or load a fresh "
                             "pipeline")
        known = tokenizer(name, add_special_tokens=False).input_ids
        if len(known) == 1:
            raise ValueError(f"{name!r} is already a token of this tokenizer "
                             f"({tokenizer.convert_ids_to_tokens(known)[0]}): a placeholder must be new, such as "
                             "'<my-concept>'")
    tokenizer.add_tokens(names)
    new_ids = [tokenizer.convert_tokens_to_ids(name) for name in names]
    pieces = tokenizer.tokenize(f"a {' '.join(names)} a")
    if pieces[1:-1] != names:  # a safety net: no tokenizer the course uses does this
        raise ValueError(f"the tokenizer does not keep {token!r} as one token ({pieces}): use a placeholder such as "
                         "'<my-concept>', in a freshly loaded pipeline")
    if weight.shape[0] <= max(new_ids):
        # mean_resizing=False: the new rows are overwritten below, so drawing them at random would be wasted
        pipe.text_encoder.resize_token_embeddings(max(new_ids) + 1, mean_resizing=False)
        weight = _embeddings(pipe)
    with torch.no_grad():
        weight[new_ids] = weight[init_ids]
    return new_ids


class RestoreOthers:
    """An ``on_step(step, loss)`` hook for ``finetune`` that puts every row of the embedding matrix back to
    its value now, except the rows of ``tokens`` (a token or a list of them, each with all its vectors):
    only those rows learn.

    ``drifted[i]`` is how many other rows the optimizer had moved by the i-th call (and the hook put back);
    ``changed()`` lists the rows that differ from the snapshot (the learned tokens' ids, once trained)."""

    def __init__(self, pipe, tokens):
        tokens = [tokens] if isinstance(tokens, str) else list(tokens)
        if not tokens:
            raise ValueError("RestoreOthers needs the token(s) that learn, e.g. RestoreOthers(pipe, '<my-concept>')")
        self.pipe = pipe
        self.ids = [i for t in tokens for i in token_ids(pipe, t)]
        weight = _embeddings(pipe)
        self.original = weight.detach().clone()
        self.keep = torch.ones(weight.shape[0], dtype=torch.bool, device=weight.device)
        self.keep[self.ids] = False
        self.drifted: list[int] = []

    def _weight(self):
        weight = _embeddings(self.pipe)
        if weight.shape != self.original.shape:
            raise RuntimeError(f"the embedding matrix changed size ({tuple(self.original.shape)} -> "
                               f"{tuple(weight.shape)}) since RestoreOthers was made: make it after add_token")
        return weight

    def __call__(self, step=None, loss=None) -> None:
        weight = self._weight()
        with torch.no_grad():
            original = self.original.to(weight.device, weight.dtype)
            self.drifted.append(int((weight[self.keep] != original[self.keep]).any(1).sum()))
            weight[self.keep] = original[self.keep]

    @property
    def calls(self) -> int:
        return len(self.drifted)

    def changed(self) -> list[int]:
        weight = self._weight().detach()
        return (weight != self.original.to(weight.device, weight.dtype)).any(1).nonzero().flatten().tolist()


def save_embedding(pipe, token: str, path) -> Path:
    """Save ``token``'s learned vectors as diffusers saves textual inversions: ``{token: tensor (vectors, dim)}``
    in a safetensors file, which ``pipe.load_textual_inversion(path)`` reads back. ``path``: a ``.safetensors``
    file, or a folder (the file is then ``learned_embeds.safetensors`` inside it). Returns the file's path."""
    from safetensors.torch import save_file

    rows = _embeddings(pipe)[token_ids(pipe, token)]
    path = Path(path)
    if path.suffix != ".safetensors":
        if path.suffix:
            raise ValueError(f"path must be a folder or a .safetensors file, not {str(path)!r}")
        path = path / WEIGHTS_NAME
    path.parent.mkdir(parents=True, exist_ok=True)
    save_file({token: rows.detach().float().cpu().clone()}, str(path), metadata={"format": "pt"})
    return path
