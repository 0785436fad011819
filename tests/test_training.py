"""The shared training pieces: checkpoints that resume, EMA, the learning-rate schedule, the loss."""

import pytest
import torch

from course_utils.mini.model import noise_scheduler
from course_utils.training import EMA, Checkpoint, lr_lambda, noise_prediction_loss


def test_lr_lambda_warms_up_then_decays_to_floor():
    f = lr_lambda(10, 100, 0.1)
    assert f(0) == pytest.approx(0.1)
    assert f(9) == pytest.approx(1.0)
    assert f(10) == pytest.approx(1.0)
    assert f(55) < f(20)
    assert f(100) == pytest.approx(0.1)
    assert f(500) == pytest.approx(0.1)


@pytest.mark.parametrize("args", [(-1, 10, 0.1), (0, 0, 0.1), (0, 10, 1.5)])
def test_lr_lambda_rejects_bad_arguments(args):
    with pytest.raises(ValueError, match="warmup"):
        lr_lambda(*args)


def test_ema_moves_towards_the_weights():
    model = torch.nn.Linear(2, 2)
    ema = EMA(model, 0.9)
    with torch.no_grad():
        model.weight.add_(1.0)
    before = ema.shadow["weight"].clone()
    ema.update(model)
    after = ema.shadow["weight"]
    assert torch.all((after - before) > 0) and torch.all(after < model.weight)
    target = torch.nn.Linear(2, 2)
    ema.copy_to(target)
    assert torch.equal(target.weight, ema.shadow["weight"])


def test_ema_rejects_bad_decay():
    with pytest.raises(ValueError, match="decay"):
        EMA(torch.nn.Linear(1, 1), 1.5)


def test_loss_is_mse_and_min_snr_downweights_easy_steps():
    pred, target = torch.zeros(4, 4, 2, 2), torch.ones(4, 4, 2, 2)
    assert noise_prediction_loss(pred, target).item() == pytest.approx(1.0)
    sched = noise_scheduler()
    easy = noise_prediction_loss(pred, target, torch.tensor([1, 1, 1, 1]), sched, 5.0)
    hard = noise_prediction_loss(pred, target, torch.tensor([900] * 4), sched, 5.0)
    assert easy < hard == pytest.approx(1.0)
    with pytest.raises(ValueError, match="timesteps"):
        noise_prediction_loss(pred, target, min_snr_gamma=5.0)


def test_checkpoint_round_trip(tmp_path):
    torch.manual_seed(0)
    model = torch.nn.Linear(3, 3)
    opt = torch.optim.AdamW(model.parameters(), 1e-2)
    model(torch.randn(2, 3)).sum().backward()
    opt.step()
    ema = EMA(model)
    ckpt = Checkpoint(tmp_path / "run", every_seconds=0)
    assert Checkpoint(tmp_path / "run").load({"m": model}) == 0  # nothing to resume yet
    assert ckpt.due()
    ckpt.save(7, {"m": model, "ema": ema}, opt, extra={"note": "hi"})
    assert (tmp_path / "run" / "m.safetensors").exists()
    fresh = torch.nn.Linear(3, 3)
    fresh_opt = torch.optim.AdamW(fresh.parameters(), 1e-2)
    fresh_ema = EMA(fresh)
    loader = Checkpoint(tmp_path / "run")
    assert loader.load({"m": fresh, "ema": fresh_ema}, fresh_opt) == 7
    assert loader.extra == {"note": "hi"}
    assert torch.equal(fresh.weight, model.weight)
    assert torch.equal(fresh_ema.shadow["weight"], ema.shadow["weight"])
    assert fresh_opt.state_dict()["state"][0]["step"] == opt.state_dict()["state"][0]["step"]
    assert not list((tmp_path / "run").glob("*.tmp"))  # written atomically


def test_loss_sample_weights_scale_each_sample():
    pred, target = torch.zeros(2, 4, 2, 2), torch.ones(2, 4, 2, 2)
    target[1] *= 2  # per-sample errors 1 and 4
    assert noise_prediction_loss(pred, target).item() == pytest.approx(2.5)
    assert noise_prediction_loss(pred, target, sample_weights=torch.tensor([1.0, 0.0])).item() == pytest.approx(0.5)
    assert noise_prediction_loss(pred, target, sample_weights=torch.tensor([0.0, 0.5])).item() == pytest.approx(1.0)
    with pytest.raises(ValueError, match="one weight per sample"):
        noise_prediction_loss(pred, target, sample_weights=torch.ones(3))
