"""Save a grid of the bundled model's samples to images/mini_samples.png (the README and model card show it).

    python tools/sample_grid.py
"""

from pathlib import Path

from course_utils import judge, shapes
from course_utils.display import image_grid
from course_utils.generation import generate
from course_utils.pipeline import load_pipeline

OUT = Path(__file__).resolve().parents[1] / "images" / "mini_samples.png"


def main(out: Path = OUT) -> None:
    pipe = load_pipeline("mini")
    scenes = shapes.scenes(24, 11)
    prompts = [shapes.full_caption(s) for s in scenes]
    images = generate(pipe, prompts, steps=20, guidance=7.5, seed=0)
    marks = ["right:" if judge.matches(judge.judge(im), s) else "WRONG:" for im, s in zip(images, scenes, strict=True)]
    titles = [f"{m} {s.size} {s.colour} {s.shape} on {s.background}" for m, s in zip(marks, scenes, strict=True)]
    grid = image_grid(images, cols=6, titles=titles, scale=2)
    out.parent.mkdir(parents=True, exist_ok=True)
    grid.save(out)
    print(f"{marks.count('right:')}/{len(marks)} judged right; saved {out}")


if __name__ == "__main__":
    main()
