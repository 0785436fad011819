"""The shared training pieces: the one checkpoint format (resume, refuse another run's), atomic writes, the loss."""

import json

import pytest
import torch
from diffusers import DDPMScheduler
from diffusers.training_utils import EMAModel

from course_utils.mini.model import SD_SCHEDULE, noise_scheduler
from course_utils.training import Checkpoint, atomic_write, noise_prediction_loss


def test_loss_is_mse_and_min_snr_downweights_easy_steps():
    pred, target = torch.zeros(4, 4, 2, 2), torch.ones(4, 4, 2, 2)
    assert noise_prediction_loss(pred, target).item() == pytest.approx(1.0)
    sched = noise_scheduler()
    easy = noise_prediction_loss(pred, target, torch.tensor([1, 1, 1, 1]), sched, 5.0)
    hard = noise_prediction_loss(pred, target, torch.tensor([900] * 4), sched, 5.0)
    assert easy < hard == pytest.approx(1.0)
    with pytest.raises(ValueError, match="timesteps"):
        noise_prediction_loss(pred, target, min_snr_gamma=5.0)


@pytest.mark.parametrize("prediction_type", ["epsilon", "v_prediction"])
def test_min_snr_weight_is_the_formula_for_each_prediction_type(prediction_type):
    sched = DDPMScheduler(**SD_SCHEDULE, prediction_type=prediction_type)
    t = torch.tensor([0, 10, 100, 300, 500, 999])
    pred, target = torch.zeros(6, 4, 2, 2), torch.ones(6, 4, 2, 2)
    target[1] *= 3  # per-sample errors 1, 9, 1, 1, 1, 1
    alpha = sched.alphas_cumprod[t].double()
    snr = alpha / (1 - alpha)  # SNR = ᾱ / (1 - ᾱ)
    weight = snr.clamp(max=5.0) / (snr if prediction_type == "epsilon" else snr + 1)
    expected = (weight * torch.tensor([1.0, 9, 1, 1, 1, 1], dtype=torch.float64)).mean().item()
    assert noise_prediction_loss(pred, target, t, sched, 5.0).item() == pytest.approx(expected, rel=1e-5)
    # the noisiest step: SNR ≈ 0, so ε-prediction weighs it 1 and v-prediction weighs it SNR/(SNR+1) ≈ 0
    last = noise_prediction_loss(pred[-1:], target[-1:], t[-1:], sched, 5.0).item()
    assert last == pytest.approx(1.0 if prediction_type == "epsilon" else 0.0, abs=0.01)


def test_min_snr_refuses_a_prediction_type_it_does_not_know():
    sched = DDPMScheduler(**SD_SCHEDULE, prediction_type="sample")
    with pytest.raises(ValueError, match="min_snr_gamma=None"):
        noise_prediction_loss(torch.zeros(1, 4), torch.ones(1, 4), torch.tensor([5]), sched, 5.0)


def trained(seed=0):
    torch.manual_seed(seed)
    model = torch.nn.Linear(3, 3)
    opt = torch.optim.AdamW(model.parameters(), 1e-2)
    model(torch.randn(2, 3)).sum().backward()
    opt.step()
    return model, opt


def test_checkpoint_round_trip(tmp_path):
    model, opt = trained()
    ema = EMAModel(model.parameters(), decay=0.9)
    ema.step(model.parameters())
    ema.step(model.parameters())
    config = {"lr": 1e-2, "channels": (3, 3)}
    ckpt = Checkpoint(tmp_path / "run", config, every_seconds=0)
    assert Checkpoint(tmp_path / "run", config).load({"m": model}) == 0  # nothing to resume yet
    assert ckpt.due()
    ckpt.save(5, {"m": model, "ema": ema}, opt)
    ckpt.save(7, {"m": model, "ema": ema}, opt)
    assert [p.name for p in (tmp_path / "run").iterdir()] == ["step-000007"]  # only the newest is kept
    last = ckpt.latest()
    assert sorted(p.name for p in last.iterdir()) == ["config.json", "ema.safetensors", "m.safetensors", "state.pt"]
    assert json.loads((last / "config.json").read_text()) == {"step": 7, "config": {"lr": 0.01, "channels": [3, 3]}}
    fresh, fresh_opt = trained(seed=1)
    fresh_ema = EMAModel(fresh.parameters(), decay=0.9)
    assert Checkpoint(tmp_path / "run", config).load({"m": fresh, "ema": fresh_ema}, fresh_opt) == 7
    assert torch.equal(fresh.weight, model.weight)
    assert all(torch.equal(a, b) for a, b in zip(fresh_ema.shadow_params, ema.shadow_params, strict=True))
    assert fresh_ema.optimization_step == ema.optimization_step == 2
    assert fresh_opt.state_dict()["state"][0]["step"] == opt.state_dict()["state"][0]["step"]
    assert not list((tmp_path / "run").glob("*.tmp"))  # written atomically


def test_resuming_with_other_settings_is_refused_with_what_differs_and_what_to_do(tmp_path):
    model, opt = trained()
    Checkpoint(tmp_path, {"lr": 1e-2, "batch": 4}).save(3, {"m": model}, opt)
    with pytest.raises(ValueError, match=r"another run \(lr: 0.01 there, 0.001 here\): resume with the same "
                                         r"settings, or use a new folder"):
        Checkpoint(tmp_path, {"lr": 1e-3, "batch": 4}).load({"m": model}, opt)
    with pytest.raises(ValueError, match="another run"):
        Checkpoint(tmp_path, {"lr": 1e-2}).check()  # a setting missing is a difference too
    assert Checkpoint(tmp_path, {"batch": 4, "lr": 1e-2}).check()["step"] == 3


def test_a_killed_save_is_not_a_checkpoint(tmp_path):
    (tmp_path / "step-000009.tmp").mkdir()
    (tmp_path / "step-000004").mkdir()  # no config.json: never finished
    assert Checkpoint(tmp_path).latest() is None
    assert Checkpoint(tmp_path / "nothing-here").latest() is None


def test_atomic_write_replaces_files_and_folders_whole(tmp_path):
    atomic_write(tmp_path / "a.txt", lambda p: p.write_text("one"))
    atomic_write(tmp_path / "a.txt", lambda p: p.write_text("two"))
    assert (tmp_path / "a.txt").read_text() == "two"

    def folder(p):
        p.mkdir()
        (p / "x").write_text("new")

    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "old").write_text("old")
    atomic_write(tmp_path / "d", folder)
    assert [q.name for q in (tmp_path / "d").iterdir()] == ["x"]
    with pytest.raises(RuntimeError):
        atomic_write(tmp_path / "a.txt", lambda p: (p.write_text("half"), (_ for _ in ()).throw(RuntimeError())))
    assert (tmp_path / "a.txt").read_text() == "two"  # a write that failed left the old file


def test_loss_sample_weights_scale_each_sample():
    pred, target = torch.zeros(2, 4, 2, 2), torch.ones(2, 4, 2, 2)
    target[1] *= 2  # per-sample errors 1 and 4
    assert noise_prediction_loss(pred, target).item() == pytest.approx(2.5)
    assert noise_prediction_loss(pred, target, sample_weights=torch.tensor([1.0, 0.0])).item() == pytest.approx(0.5)
    assert noise_prediction_loss(pred, target, sample_weights=torch.tensor([0.0, 0.5])).item() == pytest.approx(1.0)
    with pytest.raises(ValueError, match="one weight per sample"):
        noise_prediction_loss(pred, target, sample_weights=torch.ones(3))
