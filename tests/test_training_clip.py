"""contrastive_step: one step of CLIP's contrastive training, shared by the mini model's script and lesson 05."""

import copy

import pytest
import torch
from diffusers.optimization import get_scheduler

from course_utils import shapes
from course_utils.images import to_tensor
from course_utils.mini.model import build_tokenizer
from course_utils.tokens import token_ids
from course_utils.training import contrastive_step


@pytest.fixture(scope="module")
def tokenizer(tmp_path_factory):
    return build_tokenizer(tmp_path_factory.mktemp("tokenizer"))


def tiny_clip(tokenizer):
    from transformers import CLIPConfig, CLIPModel

    torch.manual_seed(0)
    text = {"vocab_size": len(tokenizer), "hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 1,
            "num_attention_heads": 2, "max_position_embeddings": tokenizer.model_max_length,
            "bos_token_id": tokenizer.bos_token_id, "eos_token_id": tokenizer.eos_token_id,
            "pad_token_id": tokenizer.pad_token_id}
    vision = {"image_size": 64, "patch_size": 16, "hidden_size": 32, "intermediate_size": 64,
              "num_hidden_layers": 1, "num_attention_heads": 2}
    return CLIPModel(CLIPConfig(text_config=text, vision_config=vision, projection_dim=16))


def batch(n=4, seed=5):
    scene_list = shapes.scenes(n, seed)
    images = torch.stack([to_tensor(shapes.render(s)) for s in scene_list])
    return [shapes.full_caption(s) for s in scene_list], images


def test_the_loss_falls_on_a_batch_it_trains_on(tokenizer):
    clip = tiny_clip(tokenizer)
    texts, images = batch()
    opt = torch.optim.AdamW(clip.parameters(), lr=3e-3)
    losses = [contrastive_step(clip, tokenizer, texts, images, opt).loss.item() for _ in range(25)]
    assert losses[-1] < 0.5 * losses[0]


def test_it_returns_the_loss_before_the_update_and_the_batch_similarities(tokenizer):
    clip = tiny_clip(tokenizer)
    texts, images = batch()
    with torch.no_grad():
        before = clip(input_ids=token_ids(tokenizer, texts), pixel_values=images, return_loss=True).loss.item()
    out = contrastive_step(clip, tokenizer, texts, images, torch.optim.SGD(clip.parameters(), lr=0.1))
    assert out.loss.item() == pytest.approx(before, rel=1e-5)
    assert out.logits_per_image.shape == (4, 4)


def test_it_is_the_step_the_training_script_used_to_write_out(tokenizer):
    """The same update as the loop stage_clip had before the step was shared: tokenise, loss, clip, step."""
    a = tiny_clip(tokenizer)
    b = copy.deepcopy(a)
    texts, images = batch()
    opts = [torch.optim.AdamW(m.parameters(), lr=1e-3, weight_decay=0.1) for m in (a, b)]
    scheds = [get_scheduler("cosine", o, num_warmup_steps=2, num_training_steps=10) for o in opts]
    for _ in range(3):
        contrastive_step(a, tokenizer, texts, images, opts[0], scheds[0], max_grad_norm=1.0)
        out = b(input_ids=token_ids(tokenizer, texts), pixel_values=images, return_loss=True)
        opts[1].zero_grad(set_to_none=True)
        out.loss.backward()
        torch.nn.utils.clip_grad_norm_(b.parameters(), 1.0)
        opts[1].step()
        scheds[1].step()
    assert scheds[0].last_epoch == 3
    for (name, pa), pb in zip(a.named_parameters(), b.parameters(), strict=True):
        assert torch.equal(pa, pb), name


def test_gradients_are_clipped_only_when_asked(tokenizer):
    texts, images = batch()
    moved = {}
    for norm in (1e-6, None):
        clip = tiny_clip(tokenizer)
        start = clip.logit_scale.detach().clone()
        contrastive_step(clip, tokenizer, texts, images, torch.optim.SGD(clip.parameters(), lr=1.0),
                         max_grad_norm=norm)
        moved[norm] = (clip.logit_scale.detach() - start).abs().item()
    assert moved[1e-6] < 1e-5 < moved[None]


def test_bad_batches_are_refused_with_a_clear_message(tokenizer):
    clip = tiny_clip(tokenizer)
    texts, images = batch()
    opt = torch.optim.SGD(clip.parameters(), lr=0.1)
    with pytest.raises(TypeError, match="list of captions"):
        contrastive_step(clip, tokenizer, texts[0], images[:1], opt)
    with pytest.raises(ValueError, match="3 captions for 4 images"):
        contrastive_step(clip, tokenizer, texts[:3], images, opt)
    with pytest.raises(ValueError, match="at least 2 pairs"):
        contrastive_step(clip, tokenizer, texts[:1], images[:1], opt)
