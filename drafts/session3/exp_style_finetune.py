import sys, time, torch
from course_utils import shapes, judge
from course_utils.pipeline import load_pipeline, generate
from course_utils.finetune import finetune, caption_images
steps = int(sys.argv[1]); lr = float(sys.argv[2]); n_flat = int(sys.argv[3])
pipe = load_pipeline("mini", dtype=torch.float32)
t = time.perf_counter()
styled = shapes.style_images(64, seed=2)
mode = sys.argv[4]
if mode == "true": caps = [shapes.full_caption(s) for _, s in styled]
elif mode == "keep": caps = caption_images([im for im, _ in styled], style="outlined", keep=("colour", "background"))
else: caps = caption_images([im for im, _ in styled], style="outlined")
right = sum(c == shapes.full_caption(s) for c, (_, s) in zip(caps, styled)) / len(caps)
print(f"captions exactly right {right:.2f} ({time.perf_counter()-t:.0f}s)", caps[:3], [shapes.full_caption(s) for _, s in styled[:3]], flush=True)
flat = [(shapes.render(s), shapes.full_caption(s)) for s in shapes.scenes(n_flat, seed=80)]
data = [(im, c) for (im, _), c in zip(styled, caps)] + flat
test_style = shapes.scenes(32, seed=81, style="outlined")
test_plain = shapes.scenes(48, seed=82)
def evaluate(tag):
    st = generate(pipe, [shapes.full_caption(s) for s in test_style], seed=1000, steps=20, guidance=3)
    pl_prompts = [shapes.full_caption(s) for s in test_plain]
    pl = generate(pipe, pl_prompts, seed=2000, steps=20, guidance=3)
    styled_rate = sum(judge.is_styled(v) for v in judge.judge_many(st)) / len(st)
    adh = judge.adherence(pl, pl_prompts)
    plain_styled = sum(judge.is_styled(v) for v in judge.judge_many(pl)) / len(pl)
    print(f"{tag}: styled {styled_rate:.2f} | plain all {adh['all']:.2f} colour {adh['colour']:.2f} | plain drawn outlined {plain_styled:.2f}", flush=True)
evaluate("base")
t = time.perf_counter()
for chunk in (steps // 2, steps):
    run = finetune(pipe, data, steps=chunk, lr=lr, batch_size=16, seed=0, folder=f"/tmp/s3/ft/ck-{steps}-{lr}-{n_flat}-{mode}")
    print(f"steps {chunk}: {time.perf_counter()-t:.0f}s", flush=True)
    evaluate(f"after {chunk}")
