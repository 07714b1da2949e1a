#!/usr/bin/env python3
"""Writes the seed corpus of every fuzz target into OUT/<target>/.

The seeds are generated, not committed: several are binary (a selector byte,
safetensors headers, serialized protobuf, PEFT adapters). Protobuf seeds come
from `protoc --encode` over ptune.proto; the PEFT seeds are real exports of a
deep classify and a shallow tag prompt trained for one epoch with
ptune-inspect on client/examples (a few seconds each).

  make_seeds.py OUT --inspect build/server/inspect/ptune-inspect --backbone DIR
"""
import argparse
import json
import os
import struct
import subprocess
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

TEXTS = [
    "Angela Merkel visited New York .",
    "Zürich is lovely 😀",
    "[MASK] prompt tuning trains a few vectors",
    "北京欢迎你 déjà vu — naïve café",
    "don't stop... isn't it?\t\n",
    "   ",
]

TRAIN_REQUEST = """
prompt_name: "tiny"
task: TASK_CLASSIFY
train_examples { examples { text: "good" label: "pos" } examples { text: "bad" label: "neg" }
                 examples { text: "great" label: "pos" } examples { text: "awful" label: "neg" } }
spec { kind: PROMPT_KIND_DEEP length: 8 }
options { epochs: 3 }
labels: "neg" labels: "pos"
"""
TAG_REQUEST = """
prompt_name: "ner"
task: TASK_TAG
train_examples { examples { tokens: "Anna" tokens: "lives" tokens: "in" tokens: "Vienna"
                            tags: "B-PER" tags: "O" tags: "O" tags: "B-LOC" } }
"""
CLASSIFY_REQUEST = """
prompt_name: "sentiment"
texts: "what a lovely day"
texts: "it broke after one day"
version: 4294967297
"""


def write(out, target, name, data):
    os.makedirs(os.path.join(out, target), exist_ok=True)
    with open(os.path.join(out, target, name), "wb") as f:
        f.write(data)


def encode(message, text):
    proto = os.path.join(ROOT, "proto")
    return subprocess.run(
        ["protoc", f"--encode=ptune.v1.{message}", "-I", proto,
         os.path.join(proto, "ptune/v1/ptune.proto")],
        input=text.encode(), check=True, capture_output=True).stdout


def peft_seed(inspect, backbone, task, data, flags, work):
    prompt, adapter = os.path.join(work, task), os.path.join(work, task + "-peft")
    subprocess.run([inspect, "train", "--backbone", backbone, "--task", task, "--train", data,
                    "--epochs", "1", "--length", "2", "--out", prompt] + flags,
                   check=True, capture_output=True)
    subprocess.run([inspect, "export-peft", "--backbone", backbone, "--prompt", prompt,
                    "--out", adapter], check=True, capture_output=True)
    parts = [open(os.path.join(adapter, name), "rb").read()
             for name in ("adapter_config.json", "ptune_export.json", "adapter_model.safetensors")]
    # peft_import_fuzz.cc: 2-byte config and export lengths, then the files.
    return struct.pack("<HH", len(parts[0]), len(parts[1])) + b"".join(parts)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("out")
    parser.add_argument("--inspect", required=True)
    parser.add_argument("--backbone", required=True)
    args = parser.parse_args()
    out = args.out

    # tokenizer_fuzz: first byte = max_length (0: the model's) | 0x80 no specials.
    for i, text in enumerate(TEXTS):
        write(out, "tokenizer_fuzz", f"text{i}", b"\x00" + text.encode())
    write(out, "tokenizer_fuzz", "truncated",
          b"\x08" + b"a very long sentence that will be truncated to eight tokens")

    header = json.dumps({"w": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]},
                         "ids": {"dtype": "I64", "shape": [1], "data_offsets": [8, 16]},
                         "__metadata__": {"format": "pt"}}).encode()
    write(out, "safetensors_fuzz", "two_tensors", struct.pack("<Q", len(header)) + header + bytes(16))

    # dataset_*_fuzz: first byte's low bit = task (0 classify, 1 tag).
    write(out, "dataset_tsv_fuzz", "cls", b"\x00text\tlabel\ngood movie\tpos\nbad movie\tneg\n")
    write(out, "dataset_tsv_fuzz", "tag", b"\x01text\tlabel\nx\ty\n")
    write(out, "dataset_csv_fuzz", "cls", b'\x00text,label\n"good, really",pos\nbad,neg\n')
    write(out, "dataset_jsonl_fuzz", "cls",
          b'\x00{"text":"good","label":"pos"}\n{"text":"bad","label":"neg"}\n')
    write(out, "dataset_jsonl_fuzz", "tag_tokens",
          b'\x01{"tokens":["EU","rejects","German"],"tags":["B-ORG","O","B-MISC"]}\n')
    write(out, "dataset_jsonl_fuzz", "tag_spans",
          b'\x01{"text":"Anna lives in Vienna .","entities":[{"start":0,"end":4,"type":"PER"},'
          b'{"start":14,"end":20,"type":"LOC"}]}\n')
    write(out, "dataset_conll_fuzz", "tag",
          b"\x01-DOCSTART- -X- -X- O\n\nEU NNP B-NP B-ORG\nrejects VBZ B-VP O\n"
          b"German JJ B-NP B-MISC\n\nPeter B-PER\nBlackburn I-PER\n")

    # request_fuzz: first byte 0 = TrainPromptRequest, else ClassifyRequest.
    write(out, "request_fuzz", "train", b"\x00" + encode("TrainPromptRequest", TRAIN_REQUEST))
    write(out, "request_fuzz", "tag", b"\x00" + encode("TrainPromptRequest", TAG_REQUEST))
    write(out, "request_fuzz", "classify", b"\x01" + encode("ClassifyRequest", CLASSIFY_REQUEST))

    examples = os.path.join(ROOT, "client", "examples")
    with tempfile.TemporaryDirectory() as work:
        write(out, "peft_import_fuzz", "cls_deep",
              peft_seed(args.inspect, args.backbone, "classify",
                        os.path.join(examples, "sentiment.tsv"), [], work))
        write(out, "peft_import_fuzz", "tag_shallow",
              peft_seed(args.inspect, args.backbone, "tag", os.path.join(examples, "ner.conll"),
                        ["--kind", "shallow", "--case_embeddings=false"], work))


if __name__ == "__main__":
    main()
