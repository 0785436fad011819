"""The benchmarks' own logic: tables, units, results.md merging, the training log, notebook selection, and the
GPU part's code path on a tiny architecture (it can only be timed for real where there is CUDA)."""

import json

import pytest

from benchmarks import __main__ as cli
from benchmarks import bars, gpu, model, notebooks, report, training
from benchmarks.report import ROOT


def test_table_escapes_pipes_and_pads_short_rows():
    got = report.table(["a", "b"], [["x|y", 1], ["z"]])
    assert got.splitlines() == ["| a | b |", "|---|---|", "| x\\|y | 1 |", "| z |  |"]


def test_table_rejects_long_rows_and_no_columns():
    with pytest.raises(ValueError, match="more cells"):
        report.table(["a"], [[1, 2]])
    with pytest.raises(ValueError, match="one column"):
        report.table([], [])


@pytest.mark.parametrize(("value", "text"), [(None, "–"), (0.4123, "0.41 s"), (12.34, "12.3 s"),
                                             (345.6, "346 s"), (900, "15.0 min")])
def test_seconds(value, text):
    assert report.seconds(value) == text


def test_size_and_target():
    assert report.size(None) == "–"
    assert report.size(300 * 2**20) == "300 MiB"
    assert report.size(3 * 2**30) == "3.00 GiB"
    assert report.target(1.2, 1.5) == "≤ 1.5 s: met"
    assert report.target(1.6, 1.5) == "≤ 1.5 s: **missed**"
    assert report.target(None, 1.5) == "–"


def test_median_and_spread_ignore_missing_values():
    assert report.median([3, None, 1, 2]) == 2
    assert report.median([None]) is None
    assert report.spread([]) == "–"
    assert report.spread([2.0]) == "2.00 s"
    assert report.spread([1.0, 3.0, 2.0]) == "2.00 s (1–3, n=3)"


def test_merge_replaces_measured_sections_and_keeps_the_others():
    old = report.merge(None, [report.Section("A", ["x"], [["1"]], stamp="old"),
                              report.Section("B", ["y"], [["2"]], stamp="old")], ["A", "B"])
    assert old.startswith(report.INTRO)
    new = report.merge(old, [report.Section("B", ["y"], [["3"]], ["a note"], stamp="new")], ["A", "B"])
    sections = report.split_sections(new)
    assert list(sections) == ["A", "B"]
    assert "| 1 |" in sections["A"] and "_old_" in sections["A"]
    assert "| 3 |" in sections["B"] and "_new_" in sections["B"] and "a note" in sections["B"]
    assert "| 2 |" not in new
    assert report.merge(new, [], ["A", "B"]) == new  # merging nothing changes nothing


def test_merge_keeps_sections_outside_the_order_last():
    text = report.merge("## Z\n\nkept\n", [report.Section("A", ["x"], [["1"]])], ["A"])
    assert list(report.split_sections(text)) == ["A", "Z"]


def test_summarize_log_takes_the_latest_run_of_each_stage(tmp_path):
    rows = [
        {"stage": "vae", "step": 100, "s_per_step": 0.5},
        {"stage": "vae", "step": 1000, "heldout_psnr": 27.0},
        {"stage": "vae", "step": 2000, "heldout_psnr": 28.2, "s_per_step": 0.3},
        {"stage": "vae", "step": 3000, "heldout_psnr": 28.5, "s_per_step": 0.4},
        {"stage": "unet", "step": 100, "s_per_step": 9.0},  # a run that was started again from scratch ...
        {"stage": "unet", "step": 100, "s_per_step": 0.6},  # ... here
        {"stage": "unet", "step": 200, "s_per_step": 0.8},
        {"stage": "unet_eval", "step": 100, "all_g3.0": 0.5, "all_g7.5": 0.95},  # the bar is read at guidance 3
        {"stage": "unet_eval", "step": 200, "all_g3.0": 0.92},
        {"stage": "stage_done", "name": "unet", "minutes": 3},
    ]
    path = tmp_path / "log.jsonl"
    path.write_text("\n".join(map(json.dumps, rows)) + "\n{\"stage\": \"unet\", \"st")  # a line cut short
    got = training.summarize_log(training.read_log(path))
    assert got["vae"] == {"steps": 3000, "s_per_step": 0.4, "bar_step": 2000}
    assert got["unet"] == {"steps": 200, "s_per_step": pytest.approx(0.7), "bar_step": None}
    assert got["unet_eval"]["bar_step"] == 200
    assert training.read_log(tmp_path / "missing.jsonl") == []


def test_select_notebooks_by_prefix(tmp_path):
    for name in ("00_first_image", "01_finite_differencing", "10_lora"):
        (tmp_path / f"{name}.ipynb").write_text("{}")
    names = lambda found: [p.stem for p in found]  # noqa: E731
    assert names(notebooks.select(None, tmp_path)) == ["00_first_image", "01_finite_differencing", "10_lora"]
    assert names(notebooks.select(["01", "notebooks/00_first_image.ipynb", "01_finite"], tmp_path)) == [
        "01_finite_differencing", "00_first_image"]
    with pytest.raises(SystemExit, match="no notebook"):
        notebooks.select(["99"], tmp_path)


def test_full_mode_budget_depends_on_the_lesson():
    assert notebooks.full_limit("05_clip") == 6 * 60
    assert notebooks.full_limit("06_guidance") == 8 * 60
    assert notebooks.full_limit("scratch") == 8 * 60


def test_ratio_is_the_median_of_pairs():
    assert model.ratio([2.0, 6.0, 3.0], [1.0, 2.0, 1.0]) == "3.00×"
    assert model.ratio([1.0], [0.0]) == "–"


def test_breakdown_adds_up_to_the_total():
    parts = {"text encoder": 0.1, "UNet": 1.0, "scheduler": 0.2, "VAE decode": 0.3, "total": 2.0}
    got = model.breakdown({"course": parts})
    assert "| other (pipeline, image conversion) | 0.40 s (20%) |" in got
    assert "| UNet | 1.00 s (50%) |" in got


def test_command_line_options():
    assert cli.parse([]).only == list(cli.PARTS)
    assert cli.parse(["--notebooks", "01"]).only == ["notebooks"]
    assert cli.parse(["--only", "model", "gpu"]).only == ["model", "gpu"]
    with pytest.raises(SystemExit):
        cli.parse(["--only", "nothing"])
    with pytest.raises(SystemExit):
        cli.parse(["--repeats", "0"])


def test_gpu_part_runs_on_a_tiny_architecture_on_the_cpu():
    import torch

    tiny_unet = dict(gpu.SD15_UNET, sample_size=8, block_out_channels=(32, 32, 32, 32), cross_attention_dim=32,
                     norm_num_groups=8, layers_per_block=1, attention_head_dim=2)
    tiny_vae = dict(gpu.SD15_VAE, sample_size=64, block_out_channels=(8, 8, 8, 8), norm_num_groups=4,
                    layers_per_block=1)
    tiny_text = dict(gpu.SD15_TEXT, hidden_size=32, intermediate_size=64, num_hidden_layers=1,
                     num_attention_heads=2)
    pipe = gpu.build(torch.device("cpu"), tiny_unet, tiny_vae, tiny_text)
    settings = gpu.course_device(pipe, torch.device("cpu"))
    assert settings.dtype == torch.float32 and "EulerDiscrete" in type(pipe.scheduler).__name__
    got = gpu.time_call(pipe, batch=2, steps=3, side=64)
    assert got["it_s"] > 0 and got["seconds"] > 0 and got["peak"] is None
    if not torch.cuda.is_available():
        section = gpu.measure()
        assert not section.rows and "Skipped: no CUDA" in section.markdown()


def test_stopwatch_splits_a_generation_and_leaves_the_pipeline_as_it_was(tiny_pipe):
    from course_utils.generation import generate

    with model.stopwatch(tiny_pipe) as parts:
        generate(tiny_pipe, "a red circle", steps=3, n=2)
    assert set(parts) == {"text encoder", "UNet", "scheduler", "VAE decode"}
    assert all(seconds > 0 for seconds in parts.values())
    assert "step" not in vars(tiny_pipe.scheduler)  # the timing wrapper is gone
    assert not tiny_pipe.unet._forward_hooks and not tiny_pipe.unet._forward_pre_hooks


def _images(n):
    from course_utils import shapes

    return [shapes.render(s).resize((32, 32)) for s in shapes.scenes(n, seed=3)]


def test_bars_measure_inside_the_run_without_changing_it(tiny_sd_dir):
    import torch

    from course_utils.finetune import finetune
    from course_utils.generation import generate
    from course_utils.pipeline import load_pipeline

    data = list(zip(_images(4), ["a red circle", "a blue square", "a star", "a heart"], strict=True))
    plain = load_pipeline(tiny_sd_dir, device="cpu", dtype=torch.float32)
    finetune(plain, data, steps=4, lr=1e-3, batch_size=16, seed=0)  # as bars.run trains

    calls = []

    def measured(pipe):  # samples with the pipe in the middle of the run, and rises by 0.1 a measurement
        assert not pipe.unet.training  # measured in eval mode ...
        generate(pipe, "a red circle", steps=2, height=32, width=32, seed=len(calls))
        calls.append(1)
        return {"x": 0.1 * (len(calls) - 1)}

    pipe = load_pipeline(tiny_sd_dir, device="cpu", dtype=torch.float32)
    loop = bars.Loop("tiny", "99", "x ≥ 0.2", 4, 1e-3, lambda: (pipe, data, "unet", {}, None), measured,
                     lambda m, m0: m["x"] >= 0.2, every=2)
    got = bars.run(loop)
    assert [step for step, _ in got.points] == [0, 2, 4] and got.bar_step == 4
    assert pipe.unet.training is False  # ... and finetune's own ending stands
    # same data, seed and steps: the weights are those of the run that measured nothing
    assert all(torch.equal(a, b) for a, b in zip(plain.unet.parameters(), pipe.unet.parameters(), strict=True))
    cells = bars.row(got)
    assert cells[2] == "**4**" and "0: 0.00 → 2: 0.10 → 4: 0.20" in cells[-1]
    got.bar_step = None
    assert bars.row(got)[2] == "not reached in 4 steps"


# the names each lesson gives its fine-tune's optimizer steps and learning rate
LESSON_SETTINGS = {"08": ("TRAIN_STEPS", "LR"), "09": ("TRAIN_STEPS_2", "LR"), "10": ("STEPS", "LR"),
                   "11": ("TRAIN_STEPS", "LR")}


@pytest.mark.parametrize("lesson", sorted(LESSON_SETTINGS))
def test_bars_train_each_loop_as_its_lesson_does_in_full_mode(lesson, tmp_path, monkeypatch):
    import nbformat

    loop = next(make() for make in bars.LOOPS if make().lesson == lesson)
    path = next((report.ROOT / "notebooks").glob(f"{lesson}_*.ipynb"))
    cells = [c.source for c in nbformat.read(path, as_version=4).cells if c.cell_type == "code"]
    monkeypatch.chdir(tmp_path)  # the settings cell makes the lesson's outputs/ folder
    monkeypatch.setenv("COURSE_QUICK", "0")
    settings = {}
    exec(cells[0] + "\n" + cells[1], settings)  # the set-up and settings cells
    steps, lr = LESSON_SETTINGS[lesson]
    assert (loop.steps, loop.lr) == (settings[steps], settings[lr])


def test_clock_says_nothing_about_other_processes_over_a_short_window():
    clock = report.Clock()
    assert clock.others() is None
    assert clock.stamp().startswith(f"{clock.started:%Y-%m-%d %H:%M} · ")


def test_a_notebook_runs_in_a_scratch_copy_and_a_failure_is_reported(tmp_path):
    import nbformat

    nb = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_code_cell("import os, pathlib\n"
                                  "pathlib.Path('outputs').mkdir()\n"
                                  "assert os.environ['COURSE_QUICK'] == '1' and os.environ['COURSE_HEADLESS'] == '1'"),
        nbformat.v4.new_code_cell("assert False, 'the check failed'"),
    ])
    path = tmp_path / "99_broken.ipynb"
    nbformat.write(nb, path)
    before = path.read_bytes()
    got = notebooks.run(path, quick=True)
    assert got["error"] == "AssertionError: the check failed"
    assert got["wall"] > 0 and (got["cpu"] is None or got["cpu"] > 0)
    assert path.read_bytes() == before and not (tmp_path / "outputs").exists()
    assert got["slowest"][0] in (1, 2)


def test_slowest_cell_reads_nbclients_timings():
    import nbformat

    def cell(source, start, end):
        timing = {"iopub.execute_input": f"2025-01-01T00:00:{start:02d}.000Z",
                  "shell.execute_reply": f"2025-01-01T00:00:{end:02d}.500Z"}
        return nbformat.v4.new_code_cell(source, metadata={"execution": timing})

    nb = nbformat.v4.new_notebook(cells=[cell("x = 1", 0, 1), nbformat.v4.new_markdown_cell("text"),
                                         cell("# NBVAL_CHECK_OUTPUT\ntrain(model)", 2, 9), cell("y", 10, 10),
                                         nbformat.v4.new_code_cell("never ran")])
    assert notebooks.slowest_cell(nb) == (2, 7.5, "train(model)")
    assert notebooks.slowest_cell(nbformat.v4.new_notebook()) is None


def test_a_part_that_breaks_is_reported_and_the_file_keeps_the_others(tmp_path, monkeypatch, capsys):
    out = tmp_path / "results.md"
    out.write_text(report.merge(None, [report.Section("Bundled model", ["x"], [["kept"]])], list(cli.PARTS.values())))

    def broken(part, args):
        raise RuntimeError("the worker died")

    monkeypatch.setattr(cli, "run_part", broken)
    assert cli.main(["--only", "training", "--out", str(out)]) == 0
    sections = report.split_sections(out.read_text())
    assert "| kept |" in sections["Bundled model"]
    assert "**Failed**: RuntimeError: the worker died" in sections["Training"]
    assert "the worker died" in capsys.readouterr().out


def test_gpu_check_says_it_needs_a_gpu(capsys, monkeypatch):
    import importlib.util

    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    spec = importlib.util.spec_from_file_location("gpu_check", ROOT / "tools" / "gpu_check.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.main() == 2
    assert "needs a CUDA GPU" in capsys.readouterr().err
