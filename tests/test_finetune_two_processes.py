"""Lesson 08's fine-tuning loop under `accelerate launch` with 2 processes on the CPU (torch.distributed, gloo).

Each process takes half of every batch, so the two see different pictures and different noise; only the
averaging of gradients across processes (DistributedDataParallel, set up by `Accelerator.prepare`) can leave
them with the same weights. The test checks that they are bit-for-bit the same, that they moved, and that
they match one process trained on the whole batch (the loop's promise: same result on 1 or n processes).

Note: `accelerate launch --cpu --num_processes 2` starts ONE process on a single machine (accelerate's
multi-CPU launch goes through MPI). `--multi_gpu` is what starts torch.distributed's launcher; on a machine
without GPUs the processes then run on the CPU and talk through gloo.

This file is also the worker script: `accelerate launch ... tests/test_finetune_two_processes.py MODEL OUT`.
"""

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

STEPS, BATCH, LR = 3, 4, 1e-3


def _data():
    from course_utils import shapes

    return [(image, shapes.full_caption(scene)) for image, scene in shapes.style_images(6, seed=2)]


def _train(model_dir, folder=None):
    from course_utils.finetune import finetune
    from course_utils.pipeline import load_pipeline

    pipe = load_pipeline(model_dir, device="cpu", dtype=torch.float32)
    run = finetune(pipe, _data(), steps=STEPS, batch_size=BATCH, lr=LR, folder=folder, save_every=STEPS)
    return pipe, run


def worker(model_dir: str, out: str) -> None:
    """Run in each launched process: train, then write this rank's weights and what it saw."""
    from accelerate import PartialState
    from safetensors.torch import save_file

    pipe, run = _train(model_dir, folder=Path(out) / "checkpoints")
    state = PartialState()  # after training: the Accelerator inside finetune set it up
    rank = state.process_index
    save_file({k: v.contiguous() for k, v in pipe.unet.state_dict().items()}, str(Path(out) / f"unet-{rank}.safetensors"))
    (Path(out) / f"run-{rank}.json").write_text(json.dumps({"world": state.num_processes, "losses": run.losses}))
    state.wait_for_everyone()
    state.destroy_process_group()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_two_processes_end_with_identical_weights(tiny_sd_dir, tmp_path):
    from safetensors.torch import load_file

    from course_utils.pipeline import load_pipeline

    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONWARNINGS": "ignore"}
    if Path("/sys/class/net/lo").exists():
        env["GLOO_SOCKET_IFNAME"] = "lo"  # talk over loopback only
    command = [sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu", "--num_processes", "2",
               "--num_machines", "1", "--mixed_precision", "no", "--dynamo_backend", "no",
               "--num_cpu_threads_per_process", "1", "--main_process_ip", "127.0.0.1",
               "--main_process_port", str(_free_port()), __file__, str(tiny_sd_dir), str(tmp_path)]
    t0 = time.monotonic()
    launched = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                start_new_session=True)  # its own process group, so nothing can outlive the test
    try:
        log, _ = launched.communicate(timeout=150)
    except subprocess.TimeoutExpired:
        os.killpg(launched.pid, signal.SIGKILL)
        log, _ = launched.communicate()
        pytest.fail(f"accelerate launch did not finish in 150 s:\n{log[-3000:]}")
    finally:
        try:  # every process of the group must be gone, whatever happened
            os.killpg(launched.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    seconds = time.monotonic() - t0
    assert launched.returncode == 0, log[-3000:]
    print(f"accelerate launch with 2 processes: {seconds:.1f} s")

    runs = [json.loads((tmp_path / f"run-{rank}.json").read_text()) for rank in (0, 1)]
    assert [r["world"] for r in runs] == [2, 2], "the two processes should have formed one group"
    assert runs[0]["losses"] == runs[1]["losses"] and len(runs[0]["losses"]) == STEPS
    weights = [load_file(str(tmp_path / f"unet-{rank}.safetensors")) for rank in (0, 1)]
    different = [k for k in weights[0] if not torch.equal(weights[0][k], weights[1][k])]
    assert not different, f"the ranks ended with different weights in {different[:5]}"
    assert (tmp_path / "checkpoints" / f"step-{STEPS:06d}" / "unet.safetensors").is_file()

    start = load_pipeline(tiny_sd_dir, device="cpu", dtype=torch.float32).unet.state_dict()
    assert any(not torch.equal(start[k], weights[0][k]) for k in start), "training should have moved the weights"
    single, run = _train(tiny_sd_dir)  # the same run in one process, with the whole batch
    # Equal up to float rounding: the two ranks' half-batch gradients are summed in another order than one
    # whole batch's. Adam divides by the root of tiny squared gradients, so a single weight whose gradient is
    # near zero can move by a step either way; compared tensor by tensor, what each run changed agrees.
    worst = 0.0
    for k, v in single.unet.state_dict().items():
        one, two = v - start[k], weights[0][k] - start[k]
        worst = max(worst, ((two - one).norm() / one.norm().clamp_min(1e-12)).item())
    print(f"largest relative difference of a tensor's change, 2 processes against 1: {worst:.2e}")
    assert worst < 0.02, f"2 processes trained differently from 1: a tensor's change differs by {worst:.1%}"
    assert run.losses == pytest.approx(runs[0]["losses"], rel=1e-4)


if __name__ == "__main__":
    worker(*sys.argv[1:3])
