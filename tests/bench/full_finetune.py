#!/usr/bin/env python3
"""The ceiling for classification: full fine-tuning of the same backbone
with Hugging Face transformers (issue #15's anchor), on the same data.

Every parameter of the encoder trains (plus a fresh classification head):
AdamW, linear warm-up/decay, lr 2e-5, batch 32 -- the usual recipe for a
BERT-sized model. The epoch with the best validation accuracy is scored on
the test set. Prints one JSON line with the metrics and the training wall
time. Not part of CI.

  python3 -m venv /tmp/peervenv && /tmp/peervenv/bin/pip install torch transformers scikit-learn
  /tmp/peervenv/bin/python tests/bench/full_finetune.py --backbone $B \
    --train $D/cls/sst2/train.tsv --valid $D/cls/sst2/dev.tsv --test $D/cls/sst2/test-labeled.tsv \
    --train-examples 4000 --epochs 1
"""
import json
import random
import time

from bench_data import finetune_args, read_sentence_tsv


def main():
    args = finetune_args(__doc__, epochs=2, lr=2e-5)

    import torch
    from sklearn.metrics import accuracy_score, f1_score
    from transformers import (AutoModelForSequenceClassification, AutoTokenizer,
                              get_linear_schedule_with_warmup)

    torch.set_num_threads(args.threads)
    random.seed(args.seed)
    torch.manual_seed(args.seed)
    train_x, train_y = read_sentence_tsv(args.train)
    if args.train_examples:
        order = list(range(len(train_x)))
        random.shuffle(order)
        order = order[:args.train_examples]
        train_x, train_y = [train_x[i] for i in order], [train_y[i] for i in order]
    labels = sorted(set(train_y))
    index = {l: i for i, l in enumerate(labels)}
    valid_x, valid_y = read_sentence_tsv(args.valid)
    test_x, test_y = read_sentence_tsv(args.test)

    tok = AutoTokenizer.from_pretrained(args.backbone)
    model = AutoModelForSequenceClassification.from_pretrained(args.backbone,
                                                               num_labels=len(labels))
    optimizer = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=0.01)
    steps = args.epochs * ((len(train_x) + args.batch_size - 1) // args.batch_size)
    schedule = get_linear_schedule_with_warmup(optimizer, int(0.06 * steps), steps)

    def predict(texts):
        model.eval()
        out = []
        with torch.no_grad():
            for i in range(0, len(texts), 64):
                enc = tok(texts[i:i + 64], padding=True, truncation=True,
                          max_length=args.max_length, return_tensors="pt")
                out.extend(model(**enc).logits.argmax(-1).tolist())
        return [labels[i] for i in out]

    best = None
    train_seconds = 0.0
    for epoch in range(args.epochs):
        model.train()
        order = list(range(len(train_x)))
        random.shuffle(order)
        start = time.monotonic()
        for i in range(0, len(order), args.batch_size):
            batch = order[i:i + args.batch_size]
            enc = tok([train_x[j] for j in batch], padding=True, truncation=True,
                      max_length=args.max_length, return_tensors="pt")
            y = torch.tensor([index[train_y[j]] for j in batch])
            loss = model(**enc, labels=y).loss
            loss.backward()
            optimizer.step()
            schedule.step()
            optimizer.zero_grad()
        train_seconds += time.monotonic() - start
        valid_acc = accuracy_score(valid_y, predict(valid_x))
        print(f"epoch {epoch + 1}: valid accuracy {100 * valid_acc:.2f}", flush=True)
        if best is None or valid_acc > best[0]:
            pred = predict(test_x)
            best = (valid_acc, accuracy_score(test_y, pred),
                    f1_score(test_y, pred, average="macro"), epoch + 1)
    print(json.dumps({
        "train_examples": len(train_x), "epochs": args.epochs, "best_epoch": best[3],
        "valid_accuracy": round(100 * best[0], 2), "test_accuracy": round(100 * best[1], 2),
        "test_macro_f1": round(100 * best[2], 2), "train_seconds": round(train_seconds),
        "train_examples_per_second": round(args.epochs * len(train_x) / train_seconds, 1),
        "torch": torch.__version__}))


if __name__ == "__main__":
    main()
