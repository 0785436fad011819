"""scoring.psnr: PSNR in dB of image tensors in [-1, 1], measured on the 0..1 scale."""

import math

import pytest
import torch

from course_utils import shapes as S
from course_utils.images import to_tensor
from course_utils.scoring import psnr


def test_known_values():
    a = torch.zeros(2, 3, 8, 8)
    assert psnr(a, a) == math.inf
    # a difference of 0.2 in [-1, 1] is 0.1 on the 0..1 scale: MSE 0.01, 20 dB
    assert psnr(a + 0.2, a) == pytest.approx(20.0, abs=1e-4)
    # the whole range apart (black against white): MSE 1, 0 dB
    assert psnr(-torch.ones(3, 4, 4), torch.ones(3, 4, 4)) == pytest.approx(0.0, abs=1e-6)


def test_one_mse_over_the_batch_and_clamped():
    x = torch.zeros(2, 3, 4, 4)
    y = x.clone()
    y[0] += 0.2  # only the first image differs: MSE 0.01 / 2
    assert psnr(y, x) == pytest.approx(10 * math.log10(200), abs=1e-4)
    assert psnr(x + 5, x) == pytest.approx(psnr(x + 1, x))  # values outside [-1, 1] are clamped


def test_a_render_against_itself_and_a_shifted_copy():
    t = to_tensor(S.render(S.scenes(1, seed=0)[0]))
    assert psnr(t, t) == math.inf
    assert 5 < psnr(torch.roll(t, 3, dims=2), t) < 30


def test_bad_inputs():
    with pytest.raises(ValueError, match="shapes differ"):
        psnr(torch.zeros(3, 8, 8), torch.zeros(3, 8, 9))
    with pytest.raises(TypeError, match="two tensors"):
        psnr(S.render(S.scenes(1, seed=0)[0]), torch.zeros(3, 64, 64))
