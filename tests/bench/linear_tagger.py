#!/usr/bin/env python3
"""The floor for tagging: a linear tagger on the frozen backbone's token states
(issue #15's linear probe for NER).

Each word is represented by the frozen encoder's last hidden state at its
first sub-word token, from `ptune-inspect word-states` (the same C++ backbone,
tokenizer and CoNLL reader the service uses, and the same token a ptune
tagging head reads). A multinomial logistic regression over the BIO tags is
fit on the training words, C chosen on the validation set's entity F1, and
the test set scored once with seqeval (entity-level, as ptune's
EvaluatePrompt). Words that kept no token count as "O". Train/validation/test
overlap (exact sentences) is counted and reported.

  python3 -m venv /tmp/probevenv && /tmp/probevenv/bin/pip install scikit-learn numpy seqeval
  /tmp/probevenv/bin/python tests/bench/linear_tagger.py --backbone $PTUNE_BACKBONE_DIR \
    --train ../shared/data/ner/wnut17/train.conll --valid ../shared/data/ner/wnut17/dev.conll \
    --test ../shared/data/ner/wnut17/test.conll
"""
import json
import subprocess
import time

from bench_data import probe_args, read_conll


def word_states(args, path):
    """(sentences as tag lists, word matrix, per-sentence rows into it or -1)."""
    import numpy as np
    out = subprocess.run([args.inspect, "word-states", f"--backbone={args.backbone}",
                          f"--data={path}"], capture_output=True, text=True, check=True)
    tags, rows, index = [], [], []
    for line in out.stdout.splitlines():
        sentence = json.loads(line)
        tags.append(sentence["tags"])
        where = []
        for state in sentence["states"]:
            if state is None:
                where.append(-1)
            else:
                where.append(len(rows))
                rows.append(state)
        index.append(where)
    return tags, np.asarray(rows, dtype=np.float32), index


def sentences(path):
    """Each sentence's words joined by spaces (for the overlap check)."""
    return [" ".join(words) for words, _ in read_conll(path)]


def predict(model, x, index):
    labels = model.predict(x) if len(x) else []
    return [[labels[i] if i >= 0 else "O" for i in where] for where in index]


def main():
    args = probe_args(__doc__)
    from seqeval.metrics import f1_score, precision_score, recall_score
    from sklearn.linear_model import LogisticRegression

    train_set = set(sentences(args.train))
    for name in ("valid", "test"):
        texts = sentences(getattr(args, name))
        overlap = sum(t in train_set for t in texts)
        print(f"{name}: {len(texts)} sentences, {overlap} also in train", flush=True)
    start = time.monotonic()
    data = {name: word_states(args, getattr(args, name)) for name in ("train", "valid", "test")}
    embed_s = time.monotonic() - start
    tags, x, index = data["train"]
    y = [t for sentence, where in zip(tags, index) for t, i in zip(sentence, where) if i >= 0]
    print(f"train: {len(tags)} sentences, {len(y)} words", flush=True)
    start = time.monotonic()
    best = None
    for c in (0.01, 0.03, 0.1, 0.3, 1.0):
        model = LogisticRegression(C=c, max_iter=500).fit(x, y)
        gold, vx, vindex = data["valid"]
        f1 = f1_score(gold, predict(model, vx, vindex))
        print(f"C={c}: valid entity F1 {100 * f1:.2f}", flush=True)
        if best is None or f1 > best[0]:
            best = (f1, c, model)
    fit_s = time.monotonic() - start
    f1, c, model = best
    gold, tx, tindex = data["test"]
    pred = predict(model, tx, tindex)
    print(json.dumps({
        "C": c, "valid_f1": round(100 * f1, 2),
        "test_f1": round(100 * f1_score(gold, pred), 2),
        "test_precision": round(100 * precision_score(gold, pred), 2),
        "test_recall": round(100 * recall_score(gold, pred), 2),
        "train_sentences": len(tags), "train_words": len(y),
        "embed_seconds": round(embed_s), "fit_seconds": round(fit_s)}))


if __name__ == "__main__":
    main()
