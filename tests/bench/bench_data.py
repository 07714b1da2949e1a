"""Readers of the benchmark data in ../shared/data, shared by the scripts here."""


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
