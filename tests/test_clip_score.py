"""The CLIP score, on a tiny random CLIP saved offline with SD 1.5's real tokenizer (`standin`)."""

from __future__ import annotations

import pytest
from PIL import Image

from course_utils.clip_score import load_clip_scorer


@pytest.fixture(scope="module")
def tiny_clip(tmp_path_factory):
    import torch
    from transformers import CLIPConfig, CLIPImageProcessor, CLIPModel, CLIPProcessor, CLIPTokenizer

    from course_utils.standin import write_clip_tokenizer

    folder = tmp_path_factory.mktemp("clip") / "tiny-clip"
    torch.manual_seed(0)
    config = CLIPConfig(text_config={"hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 1,
                                     "num_attention_heads": 2, "vocab_size": 49408},
                        vision_config={"hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 1,
                                       "num_attention_heads": 2, "image_size": 32, "patch_size": 8},
                        projection_dim=16)
    CLIPModel(config).save_pretrained(folder, safe_serialization=True)
    tokenizer = CLIPTokenizer.from_pretrained(write_clip_tokenizer(folder / "tok"))
    images = CLIPImageProcessor(size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32})
    CLIPProcessor(image_processor=images, tokenizer=tokenizer).save_pretrained(folder)
    return folder


def test_one_score_per_picture_between_0_and_100(tiny_clip):
    score = load_clip_scorer(str(tiny_clip), device="cpu")
    pictures = [Image.new("RGB", (64, 64), c) for c in ("red", "blue", "white")]
    got = score(pictures, ["a red picture", "a blue picture", "a white picture"])
    assert len(got) == 3 and all(0 <= s <= 100 for s in got)
    assert score(pictures, "a red picture")[0] == pytest.approx(got[0], abs=1e-4)  # one prompt for all
    with pytest.raises(ValueError, match="one prompt per picture"):
        score(pictures, ["a", "b"])


def test_offline_and_not_cached_is_one_line_and_none(capsys):
    assert load_clip_scorer("openai/clip-vit-large-patch14") is None
    line = capsys.readouterr().out
    assert line.count("\n") == 1 and "offline" in line
