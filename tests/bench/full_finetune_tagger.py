#!/usr/bin/env python3
"""The ceiling for tagging: full fine-tuning of the same backbone for NER with
Hugging Face transformers (issue #15's anchor), on the same CoNLL files.

Every parameter of the encoder trains, plus a fresh token-classification
head over the BIO tags: AdamW, linear warm-up/decay, lr 5e-5, batch 32 (the
usual BERT NER recipe). Each word is labelled at its first sub-word token,
as ptune's tagging head reads it; words cut off by --max-length count as "O".
The epoch with the best validation entity F1 (seqeval, as ptune's
EvaluatePrompt) is scored on the test set. Prints one JSON line with the
metrics and the training wall time. Not part of CI.

  python3 -m venv /tmp/peervenv && /tmp/peervenv/bin/pip install torch transformers seqeval
  /tmp/peervenv/bin/python tests/bench/full_finetune_tagger.py --backbone $B \\
    --train ../shared/data/ner/wnut17/train.conll --valid ../shared/data/ner/wnut17/dev.conll \\
    --test ../shared/data/ner/wnut17/test.conll --epochs 3
"""
import json
import random
import time

from bench_data import finetune_args, read_conll


def main():
    args = finetune_args(__doc__, epochs=3, lr=5e-5)

    import torch
    from seqeval.metrics import f1_score, precision_score, recall_score
    from transformers import (AutoModelForTokenClassification, AutoTokenizer,
                              get_linear_schedule_with_warmup)

    torch.set_num_threads(args.threads)
    random.seed(args.seed)
    torch.manual_seed(args.seed)
    train = read_conll(args.train)
    if args.train_examples:
        random.shuffle(train)
        train = train[:args.train_examples]
    valid, test = read_conll(args.valid), read_conll(args.test)
    tags = sorted({t for _, ts in train for t in ts})
    index = {t: i for i, t in enumerate(tags)}

    tok = AutoTokenizer.from_pretrained(args.backbone)
    model = AutoModelForTokenClassification.from_pretrained(args.backbone, num_labels=len(tags))
    optimizer = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=0.01)
    steps = args.epochs * ((len(train) + args.batch_size - 1) // args.batch_size)
    schedule = get_linear_schedule_with_warmup(optimizer, int(0.06 * steps), steps)

    def encode(sentences):
        enc = tok([words for words, _ in sentences], is_split_into_words=True, padding=True,
                  truncation=True, max_length=args.max_length, return_tensors="pt")
        firsts = []  # per sentence: word -> its first token's position
        for b in range(len(sentences)):
            first = {}
            for pos, w in enumerate(enc.word_ids(b)):
                if w is not None and w not in first:
                    first[w] = pos
            firsts.append(first)
        return enc, firsts

    def predict(sentences):
        model.eval()
        out = []
        with torch.no_grad():
            for i in range(0, len(sentences), 64):
                chunk = sentences[i:i + 64]
                enc, firsts = encode(chunk)
                best = model(**enc).logits.argmax(-1).tolist()
                for b, (words, _) in enumerate(chunk):
                    out.append([tags[best[b][firsts[b][w]]] if w in firsts[b] else "O"
                                for w in range(len(words))])
        return out

    best = None
    train_seconds = 0.0
    for epoch in range(args.epochs):
        model.train()
        random.shuffle(train)
        start = time.monotonic()
        for i in range(0, len(train), args.batch_size):
            batch = train[i:i + args.batch_size]
            enc, firsts = encode(batch)
            y = torch.full(enc["input_ids"].shape, -100, dtype=torch.long)
            for b, (_, ts) in enumerate(batch):
                for w, pos in firsts[b].items():
                    y[b, pos] = index[ts[w]]
            loss = model(**enc, labels=y).loss
            loss.backward()
            optimizer.step()
            schedule.step()
            optimizer.zero_grad()
        train_seconds += time.monotonic() - start
        valid_f1 = f1_score([ts for _, ts in valid], predict(valid))
        print(f"epoch {epoch + 1}: valid entity F1 {100 * valid_f1:.2f}", flush=True)
        if best is None or valid_f1 > best[0]:
            gold, pred = [ts for _, ts in test], predict(test)
            best = (valid_f1, f1_score(gold, pred), precision_score(gold, pred),
                    recall_score(gold, pred), epoch + 1)
            print(f"  best so far: test entity F1 {100 * best[1]:.2f}", flush=True)
    print(json.dumps({
        "train_sentences": len(train), "epochs": args.epochs, "best_epoch": best[4],
        "valid_f1": round(100 * best[0], 2), "test_f1": round(100 * best[1], 2),
        "test_precision": round(100 * best[2], 2), "test_recall": round(100 * best[3], 2),
        "train_seconds": round(train_seconds),
        "train_sentences_per_second": round(args.epochs * len(train) / train_seconds, 1),
        "torch": torch.__version__}))


if __name__ == "__main__":
    main()
