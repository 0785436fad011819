"""The feedback store of lesson 12: an append-only image-folder dataset that survives a killed writer."""

import json
import os
import signal
import subprocess
import sys
import time

import pytest
from PIL import Image

from course_utils import shapes
from course_utils.feedback import METADATA, FeedbackStore
from course_utils.provenance import SETTINGS_KEY


def picture(k=0, **settings):
    image = shapes.render(shapes.scenes(1, seed=k)[0])
    image.info[SETTINGS_KEY] = {"prompt": f"prompt {k}", "seed": k, **settings}
    return image


def test_add_keeps_the_picture_its_settings_and_the_rating(tmp_path):
    store = FeedbackStore(tmp_path / "fb")
    entry = store.add(picture(3, guidance=7.5), "up", strength=0.6)
    assert entry["rating"] == "up" and entry["prompt"] == "prompt 3" and entry["seed"] == 3
    assert entry["guidance"] == 7.5 and entry["strength"] == 0.6
    assert entry["file_name"].startswith("images/") and entry["file_name"].endswith(".png")
    with Image.open(tmp_path / "fb" / entry["file_name"]) as im:
        assert im.convert("RGB").tobytes() == picture(3).convert("RGB").tobytes()
    line = (tmp_path / "fb" / METADATA).read_text().splitlines()
    assert [json.loads(x) for x in line] == [entry] == store.entries()


def test_a_second_store_on_the_folder_appends_and_never_rewrites(tmp_path):
    first = FeedbackStore(tmp_path)
    first.add(picture(0), "up")
    before = (tmp_path / METADATA).read_bytes()
    second = FeedbackStore(tmp_path)
    assert len(second) == 1
    second.add(picture(1), "down")
    after = (tmp_path / METADATA).read_bytes()
    assert after.startswith(before) and len(second.entries()) == 2
    names = [e["file_name"] for e in second.entries()]
    assert len(set(names)) == 2 and all((tmp_path / n).is_file() for n in names)
    assert [p for p, _ in second.liked()][0].size == (64, 64)
    assert [prompt for _, prompt in second.liked()] == ["prompt 0"]


def test_a_line_cut_short_is_removed_before_appending(tmp_path):
    store = FeedbackStore(tmp_path)
    store.add(picture(0), "up")
    with open(tmp_path / METADATA, "ab") as f:
        f.write(b'{"file_name": "images/000001-dead.png", "rat')  # what a crash mid-write would leave
    again = FeedbackStore(tmp_path)
    assert len(again) == 1
    again.add(picture(1), "down")
    assert [e["rating"] for e in again.entries()] == ["up", "down"]


@pytest.mark.parametrize(("rating", "settings", "match"), [
    ("meh", {}, "rating must be 'up' or 'down'"),
    ("up", {"file_name": "x"}, "store's own column"),
    ("up", {"when": object()}, "can't be stored"),
])
def test_bad_input_is_refused_with_a_clear_message(tmp_path, rating, settings, match):
    store = FeedbackStore(tmp_path)
    with pytest.raises((ValueError, TypeError), match=match):
        store.add(picture(0), rating, **settings)
    assert store.entries() == []


WRITER = """
import sys
from course_utils import shapes
from course_utils.feedback import FeedbackStore
store = FeedbackStore(sys.argv[1])
image = shapes.render(shapes.scenes(1, seed=0)[0])
for k in range(100000):
    entry = store.add(image, "up" if k % 2 else "down", prompt="a " * 200 + str(k), k=k)
    print(entry["file_name"], flush=True)  # accepted: add() has returned
"""


def test_killing_the_writer_loses_no_accepted_entry_and_leaves_no_broken_line(tmp_path):
    accepted = []
    for round_ in range(4):
        proc = subprocess.Popen([sys.executable, "-c", WRITER, str(tmp_path)], stdout=subprocess.PIPE, text=True)
        seen = 0
        deadline = time.monotonic() + 60
        while seen < 5 + 7 * round_ and time.monotonic() < deadline:  # let it write a few, then kill it
            line = proc.stdout.readline()
            if not line:
                break
            accepted.append(line.strip())
            seen += 1
        os.kill(proc.pid, signal.SIGKILL)
        rest, _ = proc.communicate()
        accepted += rest.split()  # lines it printed before dying were accepted too
        assert seen > 0, "the writer never got going"
        raw = (tmp_path / METADATA).read_bytes()
        store = FeedbackStore(tmp_path)  # what the next session does: open, repair, append
        entries = store.entries()
        names = [e["file_name"] for e in entries]
        assert set(accepted) <= set(names), "an entry that add() returned is missing"
        assert len(names) == len(set(names))
        for e in entries:
            assert (tmp_path / e["file_name"]).is_file()
            with Image.open(tmp_path / e["file_name"]) as im:
                im.load()
        assert (tmp_path / METADATA).read_bytes() == raw[: len((tmp_path / METADATA).read_bytes())]
    assert all(json.loads(line) for line in (tmp_path / METADATA).read_text().splitlines())


def test_liked_can_keep_only_some_entries(tmp_path):
    store = FeedbackStore(tmp_path)
    store.add(picture(0), "up", rater="you")
    store.add(picture(1), "up", rater="script")
    store.add(picture(2), "down", rater="you")
    store.add(picture(3), "up")  # an entry without the column: never matches a filter on it
    assert [p for _, p in store.liked()] == ["prompt 0", "prompt 1", "prompt 3"]
    assert [p for _, p in store.liked(rater="you")] == ["prompt 0"]
    assert [p for _, p in store.liked(rater="script", seed=1)] == ["prompt 1"]
    assert store.liked(rater="nobody") == []
