#!/usr/bin/env python3
"""ptune vs Hugging Face PEFT: same backbone, data, prompt type, length, epochs, seed.

Runs `ptune-inspect train` and then a PEFT training loop (PromptTuning for
--kind shallow, PrefixTuning for --kind deep) on the same examples, one after
the other on the same machine, and prints both metrics and training
examples/s. Classification (TSV with a `sentence` or `text` column, and
`label`) or tagging (CoNLL files). PEFT is scored on --valid after every
epoch and, with --test, on the test set at its best validation epoch (as
ptune keeps its best epoch). --peft-only skips the ptune run (the anchor
table compares with ptune at its defaults instead). Not part of CI.

Set-up (once): PEFT 0.21's PrefixTuning needs a BERT that still takes
past_key_values, i.e. transformers 4.x; on transformers 5.x only
PromptTuning runs. Torch 2.11 with transformers 4.57 on the side:
  python3 -m venv /tmp/peervenv && /tmp/peervenv/bin/pip install torch==2.11.0 transformers peft scikit-learn seqeval
  /tmp/peervenv/bin/pip install --target /tmp/tf4 --no-deps "transformers>=4.57,<5" \
      "huggingface_hub<1.0" "tokenizers==0.22.1" requests charset_normalizer idna urllib3 certifi
Run:
  PYTHONPATH=/tmp/tf4 /tmp/peervenv/bin/python tests/bench/peft_baseline.py --backbone DIR \
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

import bench_data


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
from seqeval.metrics import f1_score, precision_score, recall_score  # noqa: E402
import transformers  # noqa: E402
from transformers import (AutoModelForSequenceClassification,  # noqa: E402
                          AutoModelForTokenClassification, AutoTokenizer,
                          get_linear_schedule_with_warmup)


def read_tsv(path, limit):
    rows = list(zip(*bench_data.read_sentence_tsv(path)))
    return rows[:limit] if limit else rows


def read_conll(path, limit):
    rows = bench_data.read_conll(path)
    return rows[:limit] if limit else rows


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
        test = read_tsv(args.test, 0) if args.test else []
        labels = sorted({l for _, l in train + valid + test})
        model = AutoModelForSequenceClassification.from_pretrained(args.backbone, num_labels=len(labels))
        task_type = TaskType.SEQ_CLS
    else:
        train = read_conll(args.train, args.train_examples)
        valid = read_conll(args.valid, 0)
        test = read_conll(args.test, 0) if args.test else []
        types = sorted({t[2:] for _, tags in train + valid + test for t in tags if t != "O"})
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
                            max_length=args.max_length, return_tensors="pt")
            enc["labels"] = torch.tensor([index[l] for _, l in batch])
            return enc, None
        enc = tokenizer([toks for toks, _ in batch], is_split_into_words=True, padding=True,
                        truncation=True, max_length=args.max_length, return_tensors="pt")
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

    def evaluate(data):
        model.eval()
        correct, gold, predicted = 0, [], []
        with torch.no_grad():
            for i in range(0, len(data), 64):
                batch = data[i:i + 64]
                enc, first = encode(batch)
                logits = model(**{k: v for k, v in enc.items() if k != "labels"}).logits
                pred = logits.argmax(-1)
                if args.task == "classify":
                    correct += int((pred == enc["labels"]).sum())
                    continue
                for r, (words, tags) in enumerate(batch):
                    gold.append(list(tags))
                    predicted.append([labels[int(pred[r, first[r][w]])] if w in first[r] else "O"
                                      for w in range(len(words))])
        model.train()
        if args.task == "classify":
            return {"accuracy": correct / len(data)}
        return {"precision": precision_score(gold, predicted),
                "recall": recall_score(gold, predicted), "f1": f1_score(gold, predicted)}

    key = "accuracy" if args.task == "classify" else "f1"
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad],
                                  lr=args.lr, weight_decay=0.0)
    steps = (len(train) + args.batch_size - 1) // args.batch_size * args.epochs
    scheduler = get_linear_schedule_with_warmup(optimizer, int(0.06 * steps + 0.999), steps)
    generator = torch.Generator().manual_seed(args.seed)
    train_seconds, seen, best = 0.0, 0, None
    for epoch in range(1, args.epochs + 1):
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
        scored = evaluate(valid)
        print(f"peft epoch {epoch}/{args.epochs}: valid {key} {scored[key]:.4f}, "
              f"{train_seconds:.0f} s training so far", file=sys.stderr, flush=True)
        if best is None or scored[key] > best[key]:
            best = dict(scored, best_epoch=epoch)
            if test:
                best.update({f"test_{k}": v for k, v in evaluate(test).items()})
                print(f"  best so far: test {key} {best['test_' + key]:.4f}",
                      file=sys.stderr, flush=True)
    best["train_examples_per_second"] = seen / train_seconds
    best["train_seconds"] = train_seconds
    return best


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backbone", required=True)
    parser.add_argument("--inspect", default="", help="path to ptune-inspect (not with --peft-only)")
    parser.add_argument("--task", choices=["classify", "tag"], default="classify")
    parser.add_argument("--train", required=True)
    parser.add_argument("--valid", required=True)
    parser.add_argument("--test", default="", help="scored at PEFT's best validation epoch")
    parser.add_argument("--peft-only", action="store_true", help="skip the ptune run")
    parser.add_argument("--max-length", type=int, default=128, help="PEFT's tokens per text")
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
    if not args.peft_only and not args.inspect:
        parser.error("--inspect is required unless --peft-only")
    if args.peft_only:
        peft = run_peft(args)
        print(json.dumps({"peft": dict(peft, transformers=transformers.__version__,
                                       torch=torch.__version__, kind=args.kind)}))
        return
    ours = run_ptune(args)
    peft = run_peft(args)
    key = "accuracy" if args.task == "classify" else "f1"
    print(f"{'':8} {key:>10} {'train ex/s':>12}")
    print(f"{'ptune':8} {ours[key]:10.4f} {ours['train_examples_per_second']:12.1f}")
    print(f"{'peft':8} {peft[key]:10.4f} {peft['train_examples_per_second']:12.1f}")
    print(json.dumps({"metric": key, "openblas_coretype": os.environ.get("OPENBLAS_CORETYPE", ""),
                      "ptune": ours[key], "peft": peft[key],
                      "ptune_eps": ours["train_examples_per_second"],
                      "peft_eps": peft["train_examples_per_second"],
                      "speedup": ours["train_examples_per_second"] / peft["train_examples_per_second"]}))

if __name__ == "__main__":
    main()
