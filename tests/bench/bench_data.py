"""Readers of the benchmark data in ../shared/data, and the command line of the
probes (linear_probe.py, linear_tagger.py), shared by the scripts here."""
import argparse
import os

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def data_parser(doc):
    """A parser with --backbone and the --train/--valid/--test files."""
    p = argparse.ArgumentParser(description=doc.splitlines()[0])
    p.add_argument("--backbone", required=True)
    for split in ("train", "valid", "test"):
        p.add_argument(f"--{split}", required=True)
    return p


def probe_args(doc):
    """--inspect (ptune-inspect), --backbone and the --train/--valid/--test files of a probe."""
    p = data_parser(doc)
    p.add_argument("--inspect", default=os.path.join(ROOT, "build/server/inspect/ptune-inspect"))
    return p.parse_args()


def finetune_args(doc, epochs, lr):
    """The command line of the full fine-tuning anchors (full_finetune.py,
    full_finetune_tagger.py), with their recipe's default epochs and rate."""
    p = data_parser(doc)
    p.add_argument("--train-examples", type=int, default=0, help="0 = all")
    p.add_argument("--epochs", type=int, default=epochs)
    p.add_argument("--lr", type=float, default=lr)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--max-length", type=int, default=128)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--seed", type=int, default=17)
    return p.parse_args()


def read_sentence_tsv(path):
    """(texts, labels) of a TSV with a header naming `sentence` (SST-2) or `text`, and `label`."""
    texts, labels = [], []
    with open(path, encoding="utf-8") as f:
        header = f.readline().rstrip("\n").split("\t")
        ti = header.index("sentence") if "sentence" in header else header.index("text")
        li = header.index("label")
        for line in f:
            cols = line.rstrip("\n").split("\t")
            if len(cols) > max(ti, li):
                texts.append(cols[ti])
                labels.append(cols[li])
    return texts, labels


def read_conll(path):
    """[(words, tags)] of a CoNLL file, split as ptune's reader splits it: the
    word in the first column, the tag in the last column that holds an IOB
    tag (the shared CoNLL-2003 files put a "0" after it); sentences end at
    lines of only whitespace and byte-order marks (WNUT-17 separates them
    with tab-only lines, and its dev.conll has a BOM line); -DOCSTART- lines
    are skipped."""
    out, words, tags = [], [], []
    with open(path, encoding="utf-8") as f:
        for line in f:
            cols = line.replace("\ufeff", " ").split()
            if not cols:
                if words:
                    out.append((words, tags))
                words, tags = [], []
            elif cols[0] != "-DOCSTART-":
                words.append(cols[0])
                tags.append(next((c for c in reversed(cols[1:])
                                  if c == "O" or c[:2] in ("B-", "I-")), cols[-1]))
    if words:
        out.append((words, tags))
    return out
