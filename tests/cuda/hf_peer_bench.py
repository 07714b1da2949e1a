#!/usr/bin/env python3
"""The peer of ptune-inspect bench-forward: Hugging Face transformers' BERT
encoder (PyTorch eager, SDPA attention) on the same folder, dtype, device,
batch and length, timed the same way (mean time per call over --seconds of
calls after a warm-up, each call waiting for the device). Prints one JSON line. tests/cuda/device_check.sh
runs it in alternating rounds with ptune; tests/bench/forward_peers.py does
the same on CPU.
"""
import argparse
import json
import time

import torch
from transformers import AutoModel


def main():
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--backbone", required=True, help="Hugging Face model folder")
    p.add_argument("--device", default="cuda")
    p.add_argument("--dtype", default="bfloat16", choices=["float32", "bfloat16", "float16"])
    p.add_argument("--attention", default="sdpa", choices=["sdpa", "eager"])
    p.add_argument("--batch", type=int, default=256)
    p.add_argument("--seq", type=int, default=128)
    p.add_argument("--seconds", type=float, default=2.0)
    p.add_argument("--threads", type=int, default=0, help="CPU: torch threads (0 = torch's default)")
    args = p.parse_args()
    if args.threads > 0:
        torch.set_num_threads(args.threads)
    dtype = getattr(torch, args.dtype)
    device = torch.device(args.device)
    model = AutoModel.from_pretrained(
        args.backbone, dtype=dtype, attn_implementation=args.attention
    ).to(device).eval()
    vocab = model.config.vocab_size
    gen = torch.Generator().manual_seed(0)
    ids = torch.randint(1000, vocab, (args.batch, args.seq), generator=gen)
    ids[:, 0] = 101
    ids[:, -1] = 102
    ids = ids.to(device)
    mask = torch.ones_like(ids)

    def sync():
        if device.type == "cuda":
            torch.cuda.synchronize(device)

    # As ptune-inspect's TimePerCall: one warm-up call, then calls until
    # --seconds have passed (at least 3); the mean time per call. Each call
    # waits for the device, as bench-forward's does.
    with torch.inference_mode():
        model(input_ids=ids, attention_mask=mask)
        sync()
        calls = 0
        start = time.perf_counter()
        while calls < 3 or time.perf_counter() - start < args.seconds:
            model(input_ids=ids, attention_mask=mask)
            sync()
            calls += 1
        per_call = (time.perf_counter() - start) / calls
    print(json.dumps({
        "peer": "transformers",
        "transformers": __import__("transformers").__version__,
        "torch": torch.__version__,
        "device": str(device),
        "dtype": args.dtype,
        "attention": args.attention,
        "batch": args.batch,
        "seq": args.seq,
        "ms_per_batch": per_call * 1e3,
        "seq_per_s": args.batch / per_call,
        "calls": calls,
    }))


if __name__ == "__main__":
    main()
