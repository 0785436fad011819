"""Textual inversion's helpers (course_utils.textual_inversion), on the tiny random Stable Diffusion: the new token
and its row, the hook that keeps every other row, saving in diffusers' format and loading it back, and the
errors a learner meets."""

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from course_utils import shapes
from course_utils import textual_inversion as ti
from course_utils.finetune import finetune
from course_utils.generation import generate
from course_utils.pipeline import load_pipeline
from course_utils.tokens import token_ids

TOKEN = "<my-concept>"


@pytest.fixture(scope="module")
def data():
    return [(image, f"a {TOKEN}") for image, _ in shapes.concept_images(4)]


def weight(pipe):
    return pipe.text_encoder.get_input_embeddings().weight


def encode(pipe, text):
    ids = token_ids(pipe.tokenizer, [text])
    with torch.no_grad():
        return pipe.text_encoder(ids)[0]


def test_add_token_adds_one_token_and_one_row_copied_from_the_word(pipe):
    before = weight(pipe).detach().clone()
    n = len(pipe.tokenizer)
    red = pipe.tokenizer.convert_tokens_to_ids("red</w>")
    ids = ti.add_token(pipe, TOKEN, init_from="red")
    new = ids[0]
    assert ids == [n] and len(pipe.tokenizer) == n + 1
    assert pipe.tokenizer.tokenize(f"a {TOKEN} on a blue background").count(TOKEN) == 1
    assert pipe.tokenizer(f"a {TOKEN}", add_special_tokens=False).input_ids == [
        pipe.tokenizer.convert_tokens_to_ids("a</w>"), new]
    assert weight(pipe).shape == (before.shape[0] + 1, before.shape[1])
    assert torch.equal(weight(pipe)[:-1], before) and torch.equal(weight(pipe)[new], before[red])
    assert ti.token_ids(pipe, TOKEN) == [new]
    # a copy of "red" says "red": the text encoder cannot tell the two prompts apart
    assert torch.equal(encode(pipe, f"a {TOKEN} circle"), encode(pipe, "a red circle"))


@pytest.mark.parametrize("token, error, words", [
    ("<my concept>", ValueError, "without spaces"),
    (" <x>", ValueError, "without spaces"),
    ("", ValueError, "without spaces"),
    (3, ValueError, "without spaces"),
    ("<My-Concept>", ValueError, "lower case"),
    ("red", ValueError, "already a token"),
    ("a", ValueError, "already"),
])
def test_add_token_refuses_bad_placeholders(pipe, token, error, words):
    rows, n = weight(pipe).shape[0], len(pipe.tokenizer)
    with pytest.raises(error, match=words):
        ti.add_token(pipe, token, init_from="red")
    assert (weight(pipe).shape[0], len(pipe.tokenizer)) == (rows, n), "a refused token must change nothing"


def test_add_token_refuses_a_token_twice_and_initial_words_of_several_tokens(pipe):
    with pytest.raises(ValueError, match="3 tokens"):
        ti.add_token(pipe, TOKEN, init_from="zeb")
    with pytest.raises(ValueError, match="'zeb' is 3 tokens"):
        ti.add_token(pipe, TOKEN, init_from=["red", "zeb"])
    for bad in (None, [], ["red", ""], "  ", 3):
        with pytest.raises(TypeError, match="init_from"):
            ti.add_token(pipe, TOKEN, init_from=bad)
    assert TOKEN not in pipe.tokenizer.get_added_vocab()
    ti.add_token(pipe, TOKEN, init_from="red")
    with pytest.raises(ValueError, match="already in the tokenizer"):
        ti.add_token(pipe, TOKEN, init_from="red")
    with pytest.raises(TypeError, match="Stable Diffusion pipeline"):
        ti.add_token(object(), TOKEN, init_from="red")


def test_token_ids_explains_a_token_that_is_not_there(pipe):
    with pytest.raises(ValueError, match="add_token"):
        ti.token_ids(pipe, TOKEN)
    with pytest.raises(TypeError, match="non-empty string"):
        ti.token_ids(pipe, "")
    with pytest.raises(TypeError, match="Stable Diffusion pipeline"):
        ti.token_ids(object(), TOKEN)


def test_a_token_with_several_vectors_is_named_as_diffusers_names_them(pipe):
    before = weight(pipe).detach().clone()
    n = len(pipe.tokenizer)
    ids = ti.add_token(pipe, TOKEN, init_from=["red", "blue"])
    assert ids == [n, n + 1] and ti.token_ids(pipe, TOKEN) == ids
    assert ti.vector_names(TOKEN, 2) == [TOKEN, f"{TOKEN}_1"]
    assert [pipe.tokenizer.convert_tokens_to_ids(t) for t in ti.vector_names(TOKEN, 2)] == ids
    vocab = pipe.tokenizer.get_vocab()
    assert torch.equal(weight(pipe)[ids], before[[vocab["red</w>"], vocab["blue</w>"]]])
    # diffusers' pipelines write the placeholder out as all its vectors
    assert pipe.maybe_convert_prompt(f"a {TOKEN} circle", pipe.tokenizer) == f"a {TOKEN} {TOKEN}_1 circle"
    with pytest.raises(ValueError, match="already in the tokenizer"):
        ti.add_token(pipe, f"{TOKEN}_1", init_from="red")


def test_only_the_new_row_learns_with_restore_others_hook(pipe, data):
    [new] = ti.add_token(pipe, TOKEN, init_from="red")
    before, unet = weight(pipe).detach().clone(), {k: v.clone() for k, v in pipe.unet.state_dict().items()}
    keep = ti.RestoreOthers(pipe, TOKEN)
    run = finetune(pipe, data, train=[weight(pipe)], on_step=keep, steps=3, batch_size=2, lr=1e-2,
                   empty_prompt_prob=0.0)
    assert keep.calls == 3 and len(run.losses) == 3
    # AdamW's weight decay moves every row at every step; the hook put all of them back each time
    assert keep.drifted == [weight(pipe).shape[0] - 1] * 3
    assert keep.changed() == [new]
    moved = (weight(pipe).detach() != before).any(1).nonzero().flatten().tolist()
    assert moved == [new]
    assert all(torch.equal(v, pipe.unet.state_dict()[k]) for k, v in unet.items())


def test_without_the_hook_the_optimizer_moves_other_rows(pipe, data):
    # why the hook exists: AdamW's weight decay (and the momentum of words in the captions) move other rows
    [new] = ti.add_token(pipe, TOKEN, init_from="red")
    before = weight(pipe).detach().clone()
    finetune(pipe, data, train=[weight(pipe)], steps=2, batch_size=2, lr=1e-2, empty_prompt_prob=0.0)
    moved = (weight(pipe).detach() != before).any(1).nonzero().flatten().tolist()
    assert new in moved and len(moved) > 1


def test_restore_others_hook_errors(pipe):
    with pytest.raises(ValueError, match="add_token"):
        ti.RestoreOthers(pipe, TOKEN)
    with pytest.raises(ValueError, match="needs the token"):
        ti.RestoreOthers(pipe, [])
    ti.add_token(pipe, TOKEN, init_from="red")
    keep = ti.RestoreOthers(pipe, [TOKEN])
    ti.add_token(pipe, "<another>", init_from="blue")  # the matrix grows after the hook was made
    with pytest.raises(RuntimeError, match="after add_token"):
        keep(1, 0.5)


def test_save_and_load_back_into_a_fresh_pipeline(pipe, tiny_sd_dir, tmp_path):
    [new] = ti.add_token(pipe, TOKEN, init_from="red")
    with torch.no_grad():
        weight(pipe)[new] = torch.linspace(-1, 1, weight(pipe).shape[1])  # as if it had learned
    path = ti.save_embedding(pipe, TOKEN, tmp_path / "run")
    assert path == tmp_path / "run" / ti.WEIGHTS_NAME and path.is_file()
    saved = load_file(str(path))
    assert list(saved) == [TOKEN] and saved[TOKEN].shape == (1, weight(pipe).shape[1])

    base = load_pipeline(tiny_sd_dir, device="cpu", dtype=torch.float32)
    fresh = load_pipeline(tiny_sd_dir, device="cpu", dtype=torch.float32)
    fresh.load_textual_inversion(str(path))
    assert len(fresh.tokenizer) == len(pipe.tokenizer)
    assert torch.equal(weight(fresh)[ti.token_ids(fresh, TOKEN)], weight(pipe)[[new]])
    assert torch.equal(encode(fresh, f"a {TOKEN}"), encode(pipe, f"a {TOKEN}"))
    # prompts without the token: the very same pictures as the model without it
    prompts = ["a red circle", "a blue square on a green background"]
    for a, b in zip(generate(base, prompts, steps=2), generate(fresh, prompts, steps=2), strict=True):
        assert np.array_equal(np.asarray(a), np.asarray(b))

    file = ti.save_embedding(pipe, TOKEN, tmp_path / "mine.safetensors")
    assert file == tmp_path / "mine.safetensors" and list(load_file(str(file))) == [TOKEN]


def test_save_embedding_errors(pipe, tmp_path):
    with pytest.raises(ValueError, match="add_token"):
        ti.save_embedding(pipe, TOKEN, tmp_path)
    ti.add_token(pipe, TOKEN, init_from="red")
    with pytest.raises(ValueError, match=".safetensors file"):
        ti.save_embedding(pipe, TOKEN, tmp_path / "embeds.bin")


def test_two_vectors_train_save_and_load_back(tiny_sd_dir, tmp_path):
    pipe = load_pipeline(tiny_sd_dir, device="cpu", dtype=torch.float32)
    ids = ti.add_token(pipe, TOKEN, init_from=["red", "blue"])
    caption = pipe.maybe_convert_prompt(f"a {TOKEN}", pipe.tokenizer)
    data = [(image, caption) for image, _ in shapes.concept_images(2)]
    keep = ti.RestoreOthers(pipe, TOKEN)
    start = weight(pipe).detach().clone()
    finetune(pipe, data, train=[weight(pipe)], on_step=keep, steps=2, batch_size=2, lr=1e-2, empty_prompt_prob=0.0)
    assert keep.changed() == ids and not torch.equal(weight(pipe)[ids], start[ids])
    path = ti.save_embedding(pipe, TOKEN, tmp_path)
    assert load_file(str(path))[TOKEN].shape == (2, weight(pipe).shape[1])
    fresh = load_pipeline(tiny_sd_dir, device="cpu", dtype=torch.float32)
    fresh.load_textual_inversion(str(path))
    assert torch.equal(weight(fresh)[ti.token_ids(fresh, TOKEN)], weight(pipe)[ids])
    expanded = fresh.maybe_convert_prompt(f"a {TOKEN}", fresh.tokenizer)
    assert torch.equal(encode(fresh, expanded), encode(pipe, caption))
