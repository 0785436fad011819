"""The order `make test` hands out its work: the longest test files and notebooks first.

`make test` runs two pytest-xdist workers with `--dist loadscope --no-loadscope-reorder`: a file's tests (a
notebook's cells) stay together in one worker, and a worker takes the next file, in collection order, whenever
it runs low. A long notebook taken last keeps one worker busy while the other has nothing left to do; taken
first, the short files fill the gaps at the end instead.

SECONDS are quick mode's, measured on 2 cores (1 December 2026): a notebook run alone with nbconvert; a test
file, the sum of its tests' times from `pytest -n 2 --durations=0` with one thread per worker. A stale figure
costs only time, never a result, and a file not listed counts as short.
"""

from __future__ import annotations

SECONDS = {
    "notebooks/11_lora.ipynb": 110,
    "notebooks/08_fine_tuning.ipynb": 107,
    "notebooks/06_guidance.ipynb": 103,
    "notebooks/10_dreambooth.ipynb": 103,
    "notebooks/02_noise_prediction.ipynb": 77,
    "notebooks/12_app.ipynb": 72,
    "notebooks/09_textual_inversion.ipynb": 67,
    "notebooks/00_first_image.ipynb": 54,
    "notebooks/03_autoencoders.ipynb": 51,
    "notebooks/07_img2img.ipynb": 38,
    "notebooks/05_clip.ipynb": 34,
    "notebooks/04_latents.ipynb": 21,
    "notebooks/01_finite_differencing.ipynb": 15,
    "tests/test_any_model_notebooks.py": 150,
    "tests/test_mini_quality.py": 127,
    "tests/browser/test_browser.py": 92,
    "tests/test_mini_train.py": 39,
    "tests/test_finetune_two_processes.py": 19,
    "tests/test_determinism.py": 14,
    "tests/test_feedback.py": 12,
    "tests/test_judge.py": 11,
    "tests/test_finetune.py": 11,
    "tests/test_threads.py": 7,
    "tests/test_pipeline.py": 6,
    "tests/test_app.py": 6,
    "tests/test_lora.py": 5,
}


def _file(item) -> str:
    return item.nodeid.split("::", 1)[0]


def pytest_collection_modifyitems(session, config, items):
    first = {}
    for i, item in enumerate(items):
        first.setdefault(_file(item), i)
    # stable: within a file the tests keep their order, and files of equal weight keep theirs
    items.sort(key=lambda item: (-SECONDS.get(_file(item), 0), first[_file(item)]))
