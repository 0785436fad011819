"""`make gpu-check`: on a machine with a CUDA GPU, in one run of under 10 minutes,

1. the lessons of the any-model contract on the full-size SD 1.5 stand-in (SD 1.5's exact architecture, random
   weights, 512 px) in float16, quick mode: each must run to its end (`benchmarks.any_model`);
2. the benchmark's GPU part: SD 1.5's architecture with the course's settings against diffusers' defaults
   (`benchmarks.gpu`).

Both sections go into benchmarks/results.md, with the GPU's name and the commit. Exits 1 when a lesson failed,
2 when there is no CUDA GPU.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main() -> int:
    import torch

    if not torch.cuda.is_available():
        print("make gpu-check needs a CUDA GPU (torch.cuda.is_available() is False here); on a CPU, "
              "`make test` runs the same lessons on the slim stand-in in bfloat16", file=sys.stderr)
        return 2
    from benchmarks import any_model, gpu, report
    from benchmarks.__main__ import PARTS, RESULTS

    sections = [any_model.measure("full", "float16"), gpu.measure()]
    for section in sections:
        print(section.markdown(), flush=True)
    old = RESULTS.read_text() if RESULTS.exists() else None
    RESULTS.write_text(report.merge(old, sections, list(PARTS.values())))
    print(f"written to {RESULTS}", file=sys.stderr)
    return 1 if any("**failed**" in row[1] for row in sections[0].rows) else 0


if __name__ == "__main__":
    sys.exit(main())
