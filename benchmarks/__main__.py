"""`python -m benchmarks` (what `make bench` runs): measure, print a Markdown report, write benchmarks/results.md.

    python -m benchmarks                               # everything (the notebooks in both modes take longest)
    python -m benchmarks --only model training         # some parts
    python -m benchmarks --notebooks 01 02 --modes quick
    python -m benchmarks --only bars --lessons 09      # steps textual inversion needs to reach lesson 09's bar
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from . import report

PARTS = {
    "notebooks": "Notebooks",
    "model": "Bundled model",
    "training": "Training",
    "bars": "Fine-tuning: steps to each lesson's bar",
    "any-model": "Lessons on the SD 1.5 stand-in",
    "gpu": "GPU: Stable Diffusion 1.5's architecture",
}
RESULTS = Path(__file__).resolve().parent / "results.md"


def parse(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--only", nargs="+", choices=list(PARTS), metavar="PART",
                   help=f"run these parts only: {', '.join(PARTS)} (default: all; --notebooks alone implies "
                        "notebooks)")
    p.add_argument("--notebooks", nargs="+", metavar="NAME",
                   help="only these notebooks, by name or number prefix (01, 01_finite_differencing)")
    p.add_argument("--modes", nargs="+", choices=["quick", "full"], default=["quick", "full"],
                   help="notebook modes (default: both)")
    p.add_argument("--lessons", nargs="+", metavar="NN",
                   help="bars part: only these lessons' loops (08 full fine-tune, 09, 10, 11; default: all)")
    p.add_argument("--repeats", type=int, default=5, help="timed repeats of each short measurement (default 5)")
    p.add_argument("--compile", action="store_true", help="GPU part: also time the course's settings with "
                   "torch.compile (minutes of compiling first)")
    p.add_argument("--standin", choices=["slim", "full"], default="slim",
                   help="any-model part: the stand-in's size (slim: 128 px, for a CPU; full: SD 1.5's own, 512 px)")
    p.add_argument("--dtype", default="bfloat16", help="any-model part: the dtype the lessons load it in")
    p.add_argument("--out", type=Path, default=RESULTS, help=f"results file (default {RESULTS.name} here)")
    p.add_argument("--no-write", action="store_true", help="print the report, write no file")
    args = p.parse_args(argv)
    if args.repeats < 1:
        p.error("--repeats must be at least 1")
    if args.only is None:
        args.only = ["notebooks"] if args.notebooks else list(PARTS)
    return args


def run_part(part: str, args: argparse.Namespace) -> report.Section:
    if part == "notebooks":
        from . import notebooks

        return notebooks.measure(args.notebooks, args.modes)
    if part == "model":
        from . import model

        return model.measure(args.repeats)
    if part == "training":
        from . import training

        return training.measure(args.repeats)
    if part == "bars":
        from . import bars

        return bars.measure(args.lessons)
    if part == "any-model":
        from . import any_model

        return any_model.measure(args.standin, args.dtype)
    from . import gpu

    return gpu.measure(args.compile)


def main(argv=None) -> int:
    args = parse(argv)
    sections = []
    for part in PARTS:
        if part in args.only:
            print(f"== {PARTS[part]} ...", file=sys.stderr, flush=True)
            clock = report.Clock()
            try:
                sections.append(run_part(part, args))
            except Exception as error:  # a benchmark that breaks is reported, and the other parts still run
                note = f"**Failed**: {type(error).__name__}: {error}"
                sections.append(report.Section(PARTS[part], [], notes=[note], stamp=clock.stamp()))
            print(sections[-1].markdown(), flush=True)
    if not args.no_write:
        old = args.out.read_text() if args.out.exists() else None
        args.out.write_text(report.merge(old, sections, list(PARTS.values())))
        print(f"written to {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
