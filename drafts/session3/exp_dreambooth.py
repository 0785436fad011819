import sys, time, random, torch
from course_utils import shapes, judge
from course_utils.pipeline import load_pipeline, generate
from course_utils.finetune import finetune
steps = int(sys.argv[1]); prior = sys.argv[2] == "prior"; lr = float(sys.argv[3])
pipe = load_pipeline("mini", dtype=torch.float32)
subject = shapes.subject_images(6, seed=1)
def cap(s, word): return f"a {s.size} {s.colour} {word} on a {s.background} background"
data = [(im, cap(s, "sks circle")) for im, s in subject]
cls_scenes = shapes.scenes(64, seed=50, shapes=("circle",))
test_scenes = shapes.scenes(32, seed=51, shapes=("circle",))
def evaluate(tag):
    sub = generate(pipe, [cap(s, "sks circle") for s in test_scenes], seed=1000, steps=20, guidance=3)
    cls = generate(pipe, [cap(s, "circle") for s in test_scenes], seed=1000, steps=20, guidance=3)
    vs, vc = judge.judge_many(sub), judge.judge_many(cls)
    subj = sum(judge.is_subject(v) for v in vs)/len(vs)
    sub_col = sum(v.colour == s.colour and v.background == s.background for v, s in zip(vs, test_scenes))/len(vs)
    circ = sum(v.shape == "circle" for v in vc)/len(vc)
    moon_in_cls = sum(judge.is_subject(v) for v in vc)/len(vc)
    print(f"{tag}: subject {subj:.2f} (colours {sub_col:.2f}) | class circle {circ:.2f}, moon in class {moon_in_cls:.2f}", flush=True)
    return sub
evaluate("base")
if prior:
    cls_imgs = generate(pipe, [cap(s, "circle") for s in cls_scenes], seed=5000, steps=20, guidance=3)
    data = data * 10 + [(im, cap(s, "circle"), 1.0) for im, s in zip(cls_imgs, cls_scenes)]
    data = [d if len(d) == 3 else (*d, 1.0) for d in data]
t = time.perf_counter()
done = 0
for chunk in (steps // 2, steps):
    run = finetune(pipe, data, steps=chunk, lr=lr, batch_size=16, seed=0, folder=f"/tmp/s3/db/ck-{prior}-{steps}-{lr}")
    print(f"steps {chunk}: {time.perf_counter()-t:.0f}s loss {sum(run.losses[-10:])/10:.4f}", flush=True)
    evaluate(f"after {chunk}")
