import re
import sys

import pytest
import torch

from course_utils import runtime

HOSTED_VARS = ("COLAB_RELEASE_TAG", "COLAB_GPU", "KAGGLE_KERNEL_RUN_TYPE", "KAGGLE_URL_BASE")


@pytest.fixture
def local(monkeypatch):
    for name in HOSTED_VARS:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.delitem(sys.modules, "google.colab", raising=False)


def test_environment_local(local):
    assert runtime.environment() == "local"


@pytest.mark.parametrize("var", ["COLAB_RELEASE_TAG", "COLAB_GPU"])
def test_environment_colab(local, monkeypatch, var):
    monkeypatch.setenv(var, "release-colab_20260101")
    assert runtime.environment() == "colab"


def test_environment_kaggle(local, monkeypatch):
    monkeypatch.setenv("KAGGLE_KERNEL_RUN_TYPE", "Interactive")
    assert runtime.environment() == "kaggle"


def test_device_is_one_torch_can_use():
    dev = runtime.device()
    assert dev in runtime.DEVICES
    torch.zeros(1, device=dev)  # and torch accepts it
    if not torch.cuda.is_available() and not torch.backends.mps.is_available():
        assert dev == "cpu"


def test_gpu_memory_none_on_cpu():
    assert runtime.gpu_memory("cpu") is None


def test_gpu_memory_matches_device():
    memory = runtime.gpu_memory()
    if runtime.device() == "cpu":
        assert memory is None
    else:
        free, total = memory
        assert 0 <= free <= total and total > 0


def test_gpu_memory_rejects_unknown_device():
    with pytest.raises(ValueError, match="use one of 'cuda', 'mps', 'cpu'"):
        runtime.gpu_memory("gpu")


@pytest.mark.parametrize("value", ["1", "true", "TRUE", "yes", " Yes "])
def test_quick_mode_on(monkeypatch, value):
    monkeypatch.setenv("COURSE_QUICK", value)
    assert runtime.quick_mode() is True


@pytest.mark.parametrize("value", ["0", "false", "no", ""])
def test_quick_mode_off(monkeypatch, value):
    monkeypatch.setenv("COURSE_QUICK", value)
    assert runtime.quick_mode() is False


def test_quick_mode_off_when_unset(monkeypatch):
    monkeypatch.delenv("COURSE_QUICK", raising=False)
    assert runtime.quick_mode() is False


def test_quick_mode_rejects_typo(monkeypatch):
    monkeypatch.setenv("COURSE_QUICK", "ture")
    with pytest.raises(ValueError, match=r"set it to 1 \(quick mode\) or 0 \(full mode\)"):
        runtime.quick_mode()


def test_default_model(monkeypatch):
    monkeypatch.delenv("COURSE_MODEL", raising=False)
    assert runtime.default_model() == "mini"
    monkeypatch.setenv("COURSE_MODEL", "  ")
    assert runtime.default_model() == "mini"
    monkeypatch.setenv("COURSE_MODEL", "stable-diffusion-v1-5/stable-diffusion-v1-5")
    assert runtime.default_model() == "stable-diffusion-v1-5/stable-diffusion-v1-5"


@pytest.mark.parametrize("dev", ["cpu", "CPU", torch.device("cpu"), "mps", torch.device("mps")])
def test_preferred_dtype_float32_off_cuda(dev):
    assert runtime.preferred_dtype(dev) is torch.float32


def test_preferred_dtype_cuda_half_precision():
    # without a GPU there is no capability to read: float16 is the safe answer for any CUDA GPU
    expected = {torch.float16} if not torch.cuda.is_available() else {torch.float16, torch.bfloat16}
    assert runtime.preferred_dtype("cuda") in expected
    assert runtime.preferred_dtype("cuda:0") in expected


def test_preferred_dtype_bf16_only_on_ampere(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "get_device_capability", lambda index=None: (7, 5))  # T4
    assert runtime.preferred_dtype("cuda") is torch.float16
    monkeypatch.setattr(torch.cuda, "get_device_capability", lambda index=None: (8, 0))  # A100
    assert runtime.preferred_dtype("cuda") is torch.bfloat16


@pytest.mark.parametrize("bad", ["gpu", "tpu", "cuda:x", "xla"])
def test_preferred_dtype_rejects_unknown_device(bad):
    with pytest.raises(ValueError, match="use one of 'cuda', 'mps', 'cpu'"):
        runtime.preferred_dtype(bad)


def test_preferred_dtype_rejects_non_device():
    with pytest.raises(TypeError, match="a string such as 'cpu' or a torch.device"):
        runtime.preferred_dtype(0)


def test_describe_prints_and_returns_one_line(local, monkeypatch, capsys):
    monkeypatch.setenv("COURSE_QUICK", "1")
    monkeypatch.delenv("COURSE_MODEL", raising=False)
    line = runtime.describe()
    assert capsys.readouterr().out == line + "\n"
    assert "\n" not in line
    parts = line.split(" · ")
    assert parts[0] == "local"
    assert parts[1].split(" ")[0] == runtime.device()
    assert re.fullmatch(r"\d+ cores", parts[2])
    assert f"torch {torch.__version__.split('+')[0]}" in parts
    assert "model mini" in parts
    assert parts[-1] == "quick mode"


def test_describe_full_mode(monkeypatch, capsys):
    monkeypatch.delenv("COURSE_QUICK", raising=False)
    assert runtime.describe().endswith(" · full mode")
