#!/usr/bin/env python3
"""The floor for classification: logistic regression on the frozen backbone's
sentence embeddings (issue #15's linear probe).

The embeddings come from `ptune-inspect embed` (the same C++ backbone the
service runs, equal to Hugging Face's; --pooling sentence = the folder's
sentence-transformers pooling and normalization), so the probe and ptune's
prompts see the same encoder. C is chosen on the validation set; the test
set is scored once. Train/validation/test overlap (exact sentences) is
counted and reported.

  python3 -m venv /tmp/probevenv && /tmp/probevenv/bin/pip install scikit-learn numpy
  /tmp/probevenv/bin/python tests/bench/linear_probe.py --backbone $PTUNE_BACKBONE_DIR \
    --train ../shared/data/cls/sst2/train.tsv --valid ../shared/data/cls/sst2/dev.tsv \
    --test ../shared/data/cls/sst2/test-labeled.tsv
"""
import json
import subprocess
import time

from bench_data import probe_args, read_sentence_tsv


def embed(args, texts):
    import numpy as np
    out = subprocess.run([args.inspect, "embed", f"--backbone={args.backbone}",
                          "--pooling=sentence"],
                         input="\n".join(t.replace("\n", " ") for t in texts) + "\n",
                         capture_output=True, text=True, check=True)
    rows = [json.loads(line)["embedding"] for line in out.stdout.splitlines() if line.strip()]
    assert len(rows) == len(texts), (len(rows), len(texts))
    return np.asarray(rows, dtype=np.float32)


def main():
    args = probe_args(__doc__)
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import accuracy_score, f1_score

    data = {name: read_sentence_tsv(getattr(args, name)) for name in ("train", "valid", "test")}
    train_set = set(data["train"][0])
    for name in ("valid", "test"):
        overlap = sum(t in train_set for t in data[name][0])
        print(f"{name}: {len(data[name][0])} sentences, {overlap} also in train", flush=True)
    start = time.monotonic()
    x = {name: embed(args, data[name][0]) for name in data}
    embed_s = time.monotonic() - start
    start = time.monotonic()
    best = None
    for c in (0.01, 0.1, 1.0, 10.0, 100.0):
        model = LogisticRegression(C=c, max_iter=2000).fit(x["train"], data["train"][1])
        acc = accuracy_score(data["valid"][1], model.predict(x["valid"]))
        print(f"C={c}: valid accuracy {100 * acc:.2f}", flush=True)
        if best is None or acc > best[0]:
            best = (acc, c, model)
    fit_s = time.monotonic() - start
    acc, c, model = best
    pred = model.predict(x["test"])
    print(json.dumps({
        "C": c, "valid_accuracy": round(100 * acc, 2),
        "test_accuracy": round(100 * accuracy_score(data["test"][1], pred), 2),
        "test_macro_f1": round(100 * f1_score(data["test"][1], pred, average="macro"), 2),
        "train_examples": len(data["train"][0]), "embed_seconds": round(embed_s),
        "fit_seconds": round(fit_s)}))


if __name__ == "__main__":
    main()
