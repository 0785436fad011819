"""The digits classifier of lessons 01-02: DigitClassifier, not_digits, climb, train_classifier, p_digit,
log_p_digit and predict."""

import pytest
import torch
import torch.nn.functional as F

from course_utils.digit_classifier import (
    NOISE_KINDS,
    NOT_A_DIGIT,
    DigitClassifier,
    climb,
    log_p_digit,
    not_digits,
    p_digit,
    predict,
    train_classifier,
)
from course_utils.digits import load_digits


@pytest.fixture(scope="module")
def model():
    """A short training run: enough to separate digits from noise, fast enough for a unit test."""
    return train_classifier(size=8, epochs=3, seed=0, hard=64)


@pytest.mark.parametrize("size", [8, 16, 32])
def test_classifier_shapes(size):
    net = DigitClassifier(size)
    assert net(torch.rand(5, 1, size, size)).shape == (5, 11)
    assert net.size == size


@pytest.mark.parametrize("bad", [7, 28, "8"])
def test_classifier_rejects_bad_size(bad):
    with pytest.raises(ValueError, match="size must be one of"):
        DigitClassifier(bad)


def test_not_digits_shapes_range_and_kinds():
    junk = not_digits(2 * len(NOISE_KINDS), size=16, seed=3)
    assert junk.shape == (12, 1, 16, 16) and junk.dtype == torch.float32
    assert junk.min() >= 0 and junk.max() <= 1
    # every kind is there, in turn, and no two images are the same
    assert len({tuple(im.flatten().tolist()) for im in junk}) == len(junk)
    assert not_digits(0).shape == (0, 1, 8, 8)


def test_not_digits_is_seeded():
    assert torch.equal(not_digits(30, seed=1), not_digits(30, seed=1))
    assert not torch.equal(not_digits(30, seed=1), not_digits(30, seed=2))


@pytest.mark.parametrize("bad", [-1, 2.5, True])
def test_not_digits_rejects_bad_n(bad):
    with pytest.raises(ValueError, match="n must be a whole number"):
        not_digits(bad)


def test_trained_classifier_reads_digits_and_refuses_noise(model):
    images, labels = load_digits(size=8, split="test")
    digit, confidence = predict(model, images)
    assert (digit == labels).float().mean() > 0.8
    assert ((confidence >= 0.1) & (confidence <= 1)).all()
    with torch.no_grad():
        p_real = p_digit(model, images)
        p_junk = p_digit(model, not_digits(300, seed=99))
    assert p_real.mean() > 0.7 and p_junk.mean() < 0.2


def test_trained_model_is_frozen_and_in_eval_mode(model):
    assert not model.training
    assert not any(p.requires_grad for p in model.parameters())


def test_training_is_deterministic():
    a, b, c = (train_classifier(epochs=1, hard=0, batch_size=512, seed=seed) for seed in (5, 5, 6))
    assert all(torch.equal(x, y) for x, y in zip(a.state_dict().values(), b.state_dict().values(), strict=True))
    assert not all(torch.equal(x, y) for x, y in zip(a.state_dict().values(), c.state_dict().values(), strict=True))


def test_p_digit_is_one_minus_p_not_a_digit(model):
    images = torch.cat([load_digits(split="test").images[:10], not_digits(10, seed=4)])
    with torch.no_grad():
        expected = 1 - F.softmax(model(images), dim=1)[:, NOT_A_DIGIT]
        p = p_digit(model, images)
    assert p.shape == (20,)
    assert torch.allclose(p, expected, atol=1e-5)
    assert ((p >= 0) & (p <= 1)).all()


def test_p_digit_accepts_other_sizes_and_single_images(model):
    small = load_digits(size=8, split="test").images[:50]
    big = load_digits(size=16, split="test").images[:50]
    with torch.no_grad():
        p_small, p_big = p_digit(model, small), p_digit(model, big)
        assert (p_small - p_big).abs().mean() < 0.1  # 16 px are averaged back down to 8
        assert p_digit(model, big[0, 0]).shape == (1,)  # (H, W)
        assert p_digit(model, big[:3, 0]).shape == (3,)  # (N, H, W)


def test_p_digit_rejects_bad_images(model):
    with pytest.raises(ValueError, match="expected grey images"):
        p_digit(model, torch.rand(2, 3, 8, 8))
    with pytest.raises(TypeError, match="torch tensor"):
        p_digit(model, load_digits().images.numpy())


def test_gradients_flow_to_the_pixels(model):
    x = load_digits(split="test").images[:2].clone().requires_grad_(True)
    p_digit(model, x).sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0


def test_log_p_digit_does_not_round_to_zero():
    net = DigitClassifier(8).eval()
    with torch.no_grad():
        net.head[-1].bias[NOT_A_DIGIT] = 200.0  # softmax rounds P(not a digit) to exactly 1
    x = torch.rand(1, 1, 8, 8, requires_grad=True)
    assert F.softmax(net(x), dim=1)[0, NOT_A_DIGIT] == 1.0
    log_p = log_p_digit(net, x)
    assert torch.isfinite(log_p).all() and log_p.item() < -150
    log_p.sum().backward()
    assert x.grad.abs().sum() > 0  # 1 - P(not a digit) would give a gradient of exactly 0


def test_climb_raises_p_digit_and_changes_nothing_else(model):
    noise = torch.rand(4, 1, 8, 8, generator=torch.Generator().manual_seed(0))
    before = noise.clone()
    weights = [p.clone() for p in model.parameters()]
    climbed = climb(model, noise, steps=30)
    assert torch.equal(noise, before)
    assert all(torch.equal(w, p) for w, p in zip(weights, model.parameters(), strict=True))
    assert climbed.shape == noise.shape and climbed.min() >= 0 and climbed.max() <= 1
    with torch.no_grad():
        assert (log_p_digit(model, climbed) > log_p_digit(model, noise)).all()


@pytest.mark.parametrize("kwargs", [{"epochs": 0}, {"epochs": 1.5}, {"batch_size": 0}, {"hard": -1}])
def test_train_classifier_rejects_bad_args(kwargs):
    with pytest.raises(ValueError, match="must be a whole number"):
        train_classifier(**kwargs)


def test_train_classifier_rejects_bad_size():
    with pytest.raises(ValueError, match="size must be one of"):
        train_classifier(size=10)
