#!/usr/bin/env python3
"""Reference outputs of the default backbone from Hugging Face, for the C++ parity tests.

Writes tests/fixtures/backbone/minilm_reference.jsonl: one JSON object per line,
float32 arrays as base64 (little-endian) so that the fixture stays text.

  {"kind": "sentence", "text", "ids", "hidden": b64 [T,H], "sentence": b64 [H]}
      transformers.AutoModel last_hidden_state for the text alone (no padding),
      and sentence_transformers.SentenceTransformer(dir).encode(text).
  {"kind": "shallow", "text", "ids", "prompt": b64 [M,H], "hidden": b64 [M+T,H]}
      BertModel(inputs_embeds=cat(prompt, word_embeddings(ids))), what PEFT's
      prompt tuning computes for a BERT encoder (prefix placement).
  {"kind": "deep", "text", "ids", "prefix": b64 [L,2,M,H], "hidden": b64 [T,H]}
      BertModel(past_key_values=prefix) with the attention mask extended by M,
      what PEFT's prefix tuning / P-tuning v2 computes.

Run (once, when the backbone or the reference changes; commit the output):
  python3 -m venv --system-site-packages /tmp/refvenv
  /tmp/refvenv/bin/pip install "transformers==4.40.2" "sentence-transformers==2.7.0" "numpy<2"
  /tmp/refvenv/bin/python tests/tools/gen_backbone_fixtures.py --backbone DIR
"""
import argparse
import base64
import json
import os

import numpy as np
import torch
from sentence_transformers import SentenceTransformer
from transformers import AutoModel, AutoTokenizer

SENTENCES = [
    "",
    "ok",
    "Hello, world!",
    "The movie was surprisingly good.",
    "it 's a charming and often affecting journey .",
    "unflinchingly bleak and desperate",
    "A gripping, well-acted thriller that never lets up for a second.",
    "EU rejects German call to boycott British lamb .",
    "Peter Blackburn",
    "BRUSSELS 1996-08-22",
    "Café Müller serves crème brûlée in Zürich.",
    "東京は日本の首都です。",
    "Ελληνικά ΚΕΙΜΕΝΑ με τόνους",
    "Привет, как дела?",
    "emoji 😀 and 👍🏽 inside text 🇫🇷",
    "zero\u200bwidth and\u00a0non-breaking spaces",
    "Tabs\tand\nnewlines\r\nmixed",
    "URLs like https://example.com/path?x=1&y=2 and emails a.b@c.org",
    "Numbers: 3.14159, 1,000,000 and -42.",
    "supercalifragilisticexpialidocious antidisestablishmentarianism",
    "The quick brown fox jumps over the lazy dog.",
    "I would not recommend this product to anyone I know.",
    "What a waste of two hours; the plot made no sense at all.",
    "An absolute triumph of storytelling, acting and music.",
    "The service was slow but the food made up for it.",
    "Mr. Smith went to Washington on Tuesday, meeting Senator Jones.",
    "Apple Inc. announced record quarterly revenue of $123.9 billion.",
    "The United Nations Security Council met in New York.",
    "She said: \"I'll be there by 5 p.m.\" — and she was.",
    "ALL CAPS SENTENCE WITH SHOUTING!!!",
    "mixed CaSe WoRdS here",
    "a",
    "? ! . , ; :",
    "[CLS] [SEP] [MASK] are special in the vocabulary but plain text here",
    "İstanbul and ß and ﬁ ligatures",
    "नमस्ते दुनिया",
    "مرحبا بالعالم",
    "שלום עולם",
    "สวัสดีชาวโลก",
    "한국어 문장입니다",
    "Spacing    between     words    varies.",
    " leading and trailing spaces ",
    "dates 2024-01-31 and times 12:30:45",
    "C++ and Python are programming languages; so is Rust.",
    "The patient was prescribed 20mg of atorvastatin daily.",
    "Heavy rain is expected across the northern regions this weekend.",
]

_PARAGRAPH = (
    "Soft prompts let one frozen encoder serve many tasks, because each tenant "
    "trains only a handful of vectors and a small head while the backbone stays "
    "fixed and shared. "
)
# Long rows: ~60, ~130 and ~300 tokens (the last is cut at 256 by the
# sentence-transformers pipeline, and at 512 nowhere).
SENTENCES += [_PARAGRAPH * 2, _PARAGRAPH * 4 + "The end.", _PARAGRAPH * 9]
SENTENCES += [" ".join(SENTENCES[3:9]), " ".join(SENTENCES[20:26])]

PROMPT_TEXTS = [
    "a fine film",
    "EU rejects German call to boycott British lamb .",
    "Zürich, 東京 and 😀",
]


def b64(array):
    return base64.b64encode(np.ascontiguousarray(array, dtype="<f4").tobytes()).decode()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backbone", required=True)
    parser.add_argument("--out", default="tests/fixtures/backbone/minilm_reference.jsonl")
    args = parser.parse_args()

    torch.manual_seed(1234)
    tokenizer = AutoTokenizer.from_pretrained(args.backbone)
    model = AutoModel.from_pretrained(args.backbone).eval()
    sentence_model = SentenceTransformer(args.backbone, device="cpu")
    config = model.config
    heads, hidden = config.num_attention_heads, config.hidden_size
    layers, head_dim = config.num_hidden_layers, hidden // heads

    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    with open(args.out, "w", encoding="utf-8") as out, torch.no_grad():
        sentence_embeddings = sentence_model.encode(SENTENCES, convert_to_numpy=True)
        for text, embedding in zip(SENTENCES, sentence_embeddings):
            enc = tokenizer(text, return_tensors="pt")
            states = model(**enc).last_hidden_state[0]
            out.write(json.dumps({
                "kind": "sentence", "text": text, "ids": enc["input_ids"][0].tolist(),
                "hidden": b64(states.numpy()), "sentence": b64(embedding),
            }, ensure_ascii=False) + "\n")

        for i, text in enumerate(PROMPT_TEXTS):
            enc = tokenizer(text, return_tensors="pt")
            ids = enc["input_ids"]
            m = 3 + i
            prompt = torch.randn(m, hidden) * 0.5
            embeds = torch.cat([prompt.unsqueeze(0), model.embeddings.word_embeddings(ids)], 1)
            mask = torch.ones(1, embeds.shape[1], dtype=torch.long)
            states = model(inputs_embeds=embeds, attention_mask=mask).last_hidden_state[0]
            out.write(json.dumps({
                "kind": "shallow", "text": text, "ids": ids[0].tolist(),
                "prompt": b64(prompt.numpy()), "hidden": b64(states.numpy()),
            }, ensure_ascii=False) + "\n")

            prefix = torch.randn(layers, 2, m, hidden) * 0.5
            past = tuple(
                (prefix[l, 0].view(1, m, heads, head_dim).transpose(1, 2),
                 prefix[l, 1].view(1, m, heads, head_dim).transpose(1, 2))
                for l in range(layers))
            mask = torch.ones(1, m + ids.shape[1], dtype=torch.long)
            states = model(input_ids=ids, attention_mask=mask,
                           past_key_values=past).last_hidden_state[0]
            out.write(json.dumps({
                "kind": "deep", "text": text, "ids": ids[0].tolist(),
                "prefix": b64(prefix.numpy()), "hidden": b64(states.numpy()),
            }, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main()
