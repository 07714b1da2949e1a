#!/usr/bin/env python3
"""Writes the evaluation-metrics cross-check fixture with the reference packages.

Output (committed to the repository):
  tests/fixtures/metrics/reference.json

server/training/metrics_reference_test.cc reads it and checks that
ptune::training::ScoreEntities reproduces seqeval (default, conlleval-
compatible mode: micro precision / recall / F1 and the per-type
classification_report) and that Accuracy / MacroF1 reproduce scikit-learn's
accuracy_score and f1_score(average="macro"), and ScoreClassification
precision_recall_fscore_support and confusion_matrix, all within 1e-9.

The cases are seeded random BIO gold/prediction corpora (several sentences
each) plus hand-picked edge cases: I- after O, type switches inside an
entity, entities at the end of a sentence, all-O sentences, empty
predictions, empty sentences, and random classification label lists.

Needs `seqeval` and `scikit-learn`, e.g.
  /root/.cache/ptune/refvenv/bin/pip install seqeval scikit-learn
  /root/.cache/ptune/refvenv/bin/python tests/tools/gen_metrics_fixtures.py
"""

import json
import os
import random
import warnings

import seqeval
import sklearn
from seqeval.metrics import (classification_report, f1_score,
                             precision_score, recall_score)
from sklearn.metrics import accuracy_score
from sklearn.metrics import f1_score as sk_f1_score
from sklearn.metrics import confusion_matrix, precision_recall_fscore_support

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
OUT = os.path.join(ROOT, "tests", "fixtures", "metrics", "reference.json")

SEED = 20240611
TYPES = ["PER", "LOC", "ORG", "MISC", "creative-work"]

EDGE_CASES = [
    # (name, gold, pred)
    ("i_after_o", [["O", "I-PER", "I-PER", "O"]], [["O", "B-PER", "I-PER", "O"]]),
    ("i_at_start", [["I-LOC", "O"]], [["B-LOC", "O"]]),
    ("type_switch_mid_entity", [["B-PER", "I-PER", "I-PER", "O"]],
     [["B-PER", "I-LOC", "I-PER", "O"]]),
    ("b_after_b_same_type", [["B-PER", "B-PER", "I-PER"]],
     [["B-PER", "I-PER", "I-PER"]]),
    ("entity_at_sentence_end", [["O", "O", "B-ORG", "I-ORG"], ["B-LOC"]],
     [["O", "O", "B-ORG", "I-ORG"], ["I-LOC"]]),
    ("entity_at_end_truncated", [["O", "B-ORG", "I-ORG"]], [["O", "B-ORG", "O"]]),
    ("all_o_both", [["O", "O"], ["O"]], [["O", "O"], ["O"]]),
    ("all_o_gold", [["O", "O", "O"]], [["B-PER", "O", "I-LOC"]]),
    ("empty_predictions", [["B-PER", "I-PER", "O", "B-LOC"]],
     [["O", "O", "O", "O"]]),
    ("empty_sentences", [[], ["B-MISC"], []], [[], ["B-MISC"], []]),
    ("perfect", [["B-PER", "I-PER", "O", "B-creative-work", "I-creative-work"]],
     [["B-PER", "I-PER", "O", "B-creative-work", "I-creative-work"]]),
    ("i_of_other_type_after_b", [["B-PER", "I-LOC"]], [["B-PER", "B-LOC"]]),
    ("o_inside_entity", [["B-PER", "O", "I-PER"]], [["B-PER", "B-PER", "I-PER"]]),
    ("entities_do_not_cross_sentences", [["O", "B-PER"], ["I-PER", "O"]],
     [["O", "B-PER"], ["B-PER", "O"]]),
    ("only_predicted_type", [["B-PER"]], [["B-ORG"]]),
]


def random_gold(rng, length):
    """Valid IOB2 tags with random entities (sometimes IOB1-style I- starts)."""
    tags = []
    i = 0
    while i < length:
        if rng.random() < 0.35:
            t = rng.choice(TYPES)
            n = min(length - i, rng.choice([1, 1, 1, 2, 2, 3, 4]))
            first = "I" if rng.random() < 0.1 else "B"
            tags.append(f"{first}-{t}")
            tags.extend([f"I-{t}"] * (n - 1))
            i += n
        else:
            tags.append("O")
            i += 1
    return tags


def perturb(rng, gold):
    """A prediction: the gold with random tagger-like mistakes."""
    mode = rng.random()
    if mode < 0.05:
        return ["O"] * len(gold)  # Empty prediction.
    if mode < 0.10:
        return [rng.choice(["O", "O", "B-" + rng.choice(TYPES),
                            "I-" + rng.choice(TYPES)]) for _ in gold]
    pred = list(gold)
    for i in range(len(pred)):
        r = rng.random()
        if r < 0.06:
            pred[i] = "O"
        elif r < 0.10:
            pred[i] = "B-" + rng.choice(TYPES)
        elif r < 0.15:
            pred[i] = "I-" + rng.choice(TYPES)
        elif r < 0.18 and pred[i] != "O":
            pred[i] = pred[i][0] + "-" + rng.choice(TYPES)  # Type switch.
        elif r < 0.21 and pred[i].startswith("B-"):
            pred[i] = "I-" + pred[i][2:]
    return pred


def tagging_case(name, gold, pred):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        case = {
            "name": name,
            "gold": gold,
            "pred": pred,
            "precision": float(precision_score(gold, pred)),
            "recall": float(recall_score(gold, pred)),
            "f1": float(f1_score(gold, pred)),
        }
        report = classification_report(gold, pred, output_dict=True)
    per_type = {}
    for key, value in report.items():
        if key.endswith(" avg"):
            continue
        per_type[key] = {
            "precision": float(value["precision"]),
            "recall": float(value["recall"]),
            "f1": float(value["f1-score"]),
            "support": int(value["support"]),
        }
    case["per_type"] = per_type
    return case


def classification_case(name, gold, pred, num_classes):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return {
            "name": name,
            "gold": gold,
            "pred": pred,
            "num_classes": num_classes,
            "accuracy": float(accuracy_score(gold, pred)),
            "macro_f1": float(sk_f1_score(gold, pred, average="macro")),
            # Every label of 0..num_classes-1 (ScoreClassification).
            "per_label": [
                {"precision": float(p), "recall": float(r), "f1": float(f),
                 "support": int(s)}
                for p, r, f, s in zip(*precision_recall_fscore_support(
                    gold, pred, labels=list(range(num_classes)),
                    zero_division=0))],
            "confusion": confusion_matrix(
                gold, pred, labels=list(range(num_classes))).tolist(),
        }


def main():
    rng = random.Random(SEED)
    tagging = [tagging_case(n, g, p) for n, g, p in EDGE_CASES]
    for k in range(300):
        sentences = rng.randint(1, 6)
        gold, pred = [], []
        for _ in range(sentences):
            g = random_gold(rng, rng.randint(0, 14))
            gold.append(g)
            pred.append(perturb(rng, g))
        tagging.append(tagging_case(f"random_{k}", gold, pred))

    classification = [
        classification_case("single", [1], [1], 2),
        classification_case("single_wrong", [0], [1], 2),
        classification_case("one_class", [2, 2, 2], [2, 2, 2], 3),
        classification_case("pred_only_class", [0, 0, 1, 1], [0, 2, 1, 1], 3),
        classification_case("all_wrong", [0, 1, 0, 1], [1, 0, 1, 0], 2),
        classification_case("absent_class_not_averaged", [0, 1, 1], [0, 1, 0], 5),
    ]
    for k in range(100):
        num_classes = rng.randint(2, 6)
        n = rng.randint(1, 60)
        gold = [rng.randrange(num_classes) for _ in range(n)]
        noise = rng.random()
        pred = [g if rng.random() > noise else rng.randrange(num_classes)
                for g in gold]
        classification.append(
            classification_case(f"random_{k}", gold, pred, num_classes))

    fixture = {
        "generator": "tests/tools/gen_metrics_fixtures.py",
        "seed": SEED,
        "seqeval_version": seqeval.__version__ if hasattr(seqeval, "__version__")
        else "1.2.2",
        "sklearn_version": sklearn.__version__,
        "tagging": tagging,
        "classification": classification,
    }
    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    with open(OUT, "w", encoding="utf-8") as f:
        json.dump(fixture, f, indent=None, separators=(",", ":"))
        f.write("\n")
    print(f"wrote {OUT}: {len(tagging)} tagging cases, "
          f"{len(classification)} classification cases")


if __name__ == "__main__":
    main()
