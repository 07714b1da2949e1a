#!/usr/bin/env python3
"""ptune vs Hugging Face PEFT: same backbone, data, prompt type, length, epochs, seed.

Runs `ptune-inspect train` and then a PEFT training loop (PromptTuning for
--kind shallow, PrefixTuning for --kind deep) on the same examples, one after
the other on the same machine, and prints both metrics and training
examples/s. Classification (SST-2 style TSV) or tagging (CoNLL files).
Not part of CI.

Set-up (once):
  python3 -m venv --system-site-packages /tmp/peftvenv   # Debian's python3-torch
  /tmp/peftvenv/bin/pip install "transformers==4.40.2" "peft==0.10.0" "accelerate<0.30" "numpy<2"
Run:
  /tmp/peftvenv/bin/python tests/bench/peft_baseline.py --backbone DIR \
      --inspect build/server/inspect/ptune-inspect --task classify \
      --train ../shared/data/cls/sst2/train.tsv --valid ../shared/data/cls/sst2/dev.tsv \
      --train-examples 4000 --epochs 1 --kind deep --length 16
"""
import argparse
import csv
import json
import os
import subprocess
import sys
import tempfile
import time


def _pick_blas_kernel():
    """The OpenBLAS kernel ptune's binaries pick (server/platform/blas_kernel.h).

    Debian's OpenBLAS 0.3.21 falls back to generic kernels on recent Intel
    CPUs; PEFT must run on the same kernel as ptune for a fair comparison, and
    OpenBLAS reads the variable only when torch loads it.
    """
    if "OPENBLAS_CORETYPE" in os.environ:
        return
    flags = ""
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("flags"):
                flags = line
                break
    if all(f" {x}" in flags for x in ("avx512f", "avx512bw", "avx512vl")):
        os.environ["OPENBLAS_CORETYPE"] = "SkylakeX"
    elif " avx2" in flags and " fma" in flags:
        os.environ["OPENBLAS_CORETYPE"] = "Haswell"


_pick_blas_kernel()

import torch  # noqa: E402  (after the BLAS kernel choice)
from peft import (PrefixTuningConfig, PromptTuningConfig,  # noqa: E402
                  PromptTuningInit, TaskType, get_peft_model)
from transformers import (AutoModelForSequenceClassification,  # noqa: E402
                          AutoModelForTokenClassification, AutoTokenizer,
                          get_linear_schedule_with_warmup)


def read_tsv(path, limit):
    with open(path, encoding="utf-8") as f:
        rows = list(csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE))
    rows = [(r["sentence"], r["label"]) for r in rows]
    return rows[:limit] if limit else rows


def read_conll(path, limit):
    sentences, tokens, tags = [], [], []
    with open(path, encoding="utf-8") as f:
        for line in f:
            parts = line.strip().replace("\ufeff", "").split()
            if not parts:
                if tokens:
                    sentences.append((tokens, tags))
                tokens, tags = [], []
                continue
            tag = next(p for p in reversed(parts) if p == "O" or p[:2] in ("B-", "I-"))
            tokens.append(parts[0])
            tags.append(tag)
    if tokens:
        sentences.append((tokens, tags))
    return sentences[:limit] if limit else sentences


def entities(tags):
    """seqeval default chunking: (type, start, end) spans."""
    out, start, kind = set(), None, None
    for i, tag in enumerate(list(tags) + ["O"]):
        prefix, _, t = tag.partition("-")
        if start is not None and (prefix != "I" or t != kind):
            out.add((kind, start, i))
            start = None
        if prefix == "B" or (prefix == "I" and start is None):
            start, kind = i, t
    return out


def run_ptune(args):
    with tempfile.TemporaryDirectory() as out:
        cmd = [args.inspect, "train", "--backbone", args.backbone, "--task", args.task,
               "--train", args.train, "--valid", args.valid, "--out", out,
               "--max_train_examples", str(args.train_examples), "--epochs", str(args.epochs),
               "--kind", args.kind, "--length", str(args.length), "--lr", str(args.lr),
               "--batch_size", str(args.batch_size), "--seed", str(args.seed),
               "--patience", str(args.epochs),
               # PEFT has no case embeddings: compare like with like.
               "--case_embeddings=false"]
        start = time.time()
        proc = subprocess.run(cmd, capture_output=True, text=True)
        if proc.returncode != 0:
            sys.exit("ptune-inspect failed:\n" + proc.stderr)
        metrics = json.loads(proc.stdout.strip().splitlines()[-1])
        metrics["wall_s"] = time.time() - start
        return metrics


def run_peft(args):
    torch.manual_seed(args.seed)
    torch.set_num_threads(args.threads)
    tokenizer = AutoTokenizer.from_pretrained(args.backbone)
    if args.task == "classify":
        train = read_tsv(args.train, args.train_examples)
        valid = read_tsv(args.valid, 0)
        labels = sorted({l for _, l in train + valid})
        model = AutoModelForSequenceClassification.from_pretrained(args.backbone, num_labels=len(labels))
        task_type = TaskType.SEQ_CLS
    else:
        train = read_conll(args.train, args.train_examples)
        valid = read_conll(args.valid, 0)
        types = sorted({t[2:] for _, tags in train + valid for t in tags if t != "O"})
        labels = ["O"] + [f"{p}-{t}" for t in types for p in ("B", "I")]
        model = AutoModelForTokenClassification.from_pretrained(args.backbone, num_labels=len(labels))
        task_type = TaskType.TOKEN_CLS
    index = {l: i for i, l in enumerate(labels)}
    if args.kind == "deep":
        config = PrefixTuningConfig(task_type=task_type, num_virtual_tokens=args.length)
    else:
        config = PromptTuningConfig(task_type=task_type, num_virtual_tokens=args.length,
                                    prompt_tuning_init=PromptTuningInit.RANDOM)
    model = get_peft_model(model, config)

    def encode(batch):
        if args.task == "classify":
            enc = tokenizer([t for t, _ in batch], padding=True, truncation=True,
                            max_length=128, return_tensors="pt")
            enc["labels"] = torch.tensor([index[l] for _, l in batch])
            return enc, None
        enc = tokenizer([toks for toks, _ in batch], is_split_into_words=True, padding=True,
                        truncation=True, max_length=128, return_tensors="pt")
        label_rows, first = [], []
        for r, (_, tags) in enumerate(batch):
            seen, row, firsts = set(), [], {}
            for pos, word in enumerate(enc.word_ids(r)):
                if word is None or word in seen:
                    row.append(-100)
                else:
                    seen.add(word)
                    row.append(index[tags[word]])
                    firsts[word] = pos
            label_rows.append(row)
            first.append(firsts)
        enc["labels"] = torch.tensor(label_rows)
        return enc, first

    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad],
                                  lr=args.lr, weight_decay=0.0)
    steps = (len(train) + args.batch_size - 1) // args.batch_size * args.epochs
    scheduler = get_linear_schedule_with_warmup(optimizer, int(0.06 * steps + 0.999), steps)
    generator = torch.Generator().manual_seed(args.seed)
    train_seconds, seen = 0.0, 0
    for _ in range(args.epochs):
        model.train()
        order = torch.randperm(len(train), generator=generator).tolist()
        start = time.time()
        for i in range(0, len(order), args.batch_size):
            batch = [train[j] for j in order[i:i + args.batch_size]]
            enc, _ = encode(batch)
            loss = model(**enc).loss
            optimizer.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            scheduler.step()
            seen += len(batch)
        train_seconds += time.time() - start
    model.eval()
    correct, gold_n, pred_n, hit = 0, 0, 0, 0
    with torch.no_grad():
        for i in range(0, len(valid), 64):
            batch = valid[i:i + 64]
            enc, first = encode(batch)
            logits = model(**{k: v for k, v in enc.items() if k != "labels"}).logits
            pred = logits.argmax(-1)
            if args.task == "classify":
                correct += int((pred == enc["labels"]).sum())
                continue
            for r, (toks, tags) in enumerate(batch):
                ptags = [labels[int(pred[r, first[r][w]])] if w in first[r] else "O"
                         for w in range(len(toks))]
                g, p = entities(tags), entities(ptags)
                gold_n, pred_n, hit = gold_n + len(g), pred_n + len(p), hit + len(g & p)
    if args.task == "classify":
        metrics = {"accuracy": correct / len(valid)}
    else:
        precision = hit / pred_n if pred_n else 0.0
        recall = hit / gold_n if gold_n else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        metrics = {"precision": precision, "recall": recall, "f1": f1}
    metrics["train_examples_per_second"] = seen / train_seconds
    return metrics


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backbone", required=True)
    parser.add_argument("--inspect", required=True, help="path to ptune-inspect")
    parser.add_argument("--task", choices=["classify", "tag"], default="classify")
    parser.add_argument("--train", required=True)
    parser.add_argument("--valid", required=True)
    parser.add_argument("--train-examples", type=int, default=4000)
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--kind", choices=["shallow", "deep"], default="deep")
    parser.add_argument("--length", type=int, default=16)
    parser.add_argument("--lr", type=float, default=1e-2)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--seed", type=int, default=42)
    # ptune runs 1 intra-op thread (OpenBLAS threads each GEMM itself).
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    ours = run_ptune(args)
    peft = run_peft(args)
    key = "accuracy" if args.task == "classify" else "f1"
    print(f"{'':8} {key:>10} {'train ex/s':>12}")
    print(f"{'ptune':8} {ours[key]:10.4f} {ours['train_examples_per_second']:12.1f}")
    print(f"{'peft':8} {peft[key]:10.4f} {peft['train_examples_per_second']:12.1f}")
    print(json.dumps({"metric": key, "openblas_coretype": os.environ.get("OPENBLAS_CORETYPE", ""), "ptune": ours[key], "peft": peft[key],
                      "ptune_eps": ours["train_examples_per_second"],
                      "peft_eps": peft["train_examples_per_second"],
                      "speedup": ours["train_examples_per_second"] / peft["train_examples_per_second"]}))


if __name__ == "__main__":
    main()
