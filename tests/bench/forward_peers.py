#!/usr/bin/env python3
"""Encoder forward on the CPU: ptune's builds against the forwards a user
would pick instead, in alternating rounds on the same thread budget.

Contenders, each measured in a fresh process per round (so no process keeps
a warm advantage), in an order that rotates every round:
  - every `--ptune LABEL=PATH[:THREADS]` (ptune-inspect bench-forward; e.g.
    the Debian LibTorch 1.13 build and the LibTorch 2.11 build),
  - PyTorch eager: Hugging Face transformers' BertModel, SDPA attention,
  - ONNX Runtime: the same model exported to ONNX (graph optimizations on).
Every contender runs the same shape (batch x tokens, no prompt), times the
mean per call over --seconds after a warm-up, on --threads threads; the
table gives each round's sequences/s, the best of the rounds and each
contender's best over ptune's first.

  /tmp/peervenv/bin/python tests/bench/forward_peers.py --backbone $B \
    --ptune 1.13=build/server/inspect/ptune-inspect \
    --ptune 2.11=build-cuda/server/inspect/ptune-inspect:2 \
    --shapes 32x84,1x16 --rounds 5

Needs torch, transformers, onnx, onnxscript and onnxruntime (a venv; not CI).
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time


def time_calls(fn, seconds):
    fn()
    calls, start = 0, time.perf_counter()
    while calls < 3 or time.perf_counter() - start < seconds:
        fn()
        calls += 1
    return (time.perf_counter() - start) / calls


def inputs(batch, seq, vocab):
    import torch
    gen = torch.Generator().manual_seed(0)
    ids = torch.randint(1000, vocab, (batch, seq), generator=gen)
    ids[:, 0], ids[:, -1] = 101, 102
    return ids, torch.ones_like(ids)


def worker(args):
    """One measurement in this process; prints seconds per call."""
    import torch
    torch.set_num_threads(args.threads)
    from transformers import AutoModel
    model = AutoModel.from_pretrained(args.backbone, attn_implementation="sdpa").eval()
    ids, mask = inputs(args.batch, args.seq, model.config.vocab_size)
    if args.worker == "torch":
        with torch.inference_mode():
            per_call = time_calls(lambda: model(input_ids=ids, attention_mask=mask), args.seconds)
    else:
        import onnxruntime as ort
        options = ort.SessionOptions()
        options.intra_op_num_threads = args.threads
        options.inter_op_num_threads = 1
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        session = ort.InferenceSession(args.onnx, options, providers=["CPUExecutionProvider"])
        feed = {"input_ids": ids.numpy(), "attention_mask": mask.numpy(),
                "token_type_ids": torch.zeros_like(ids).numpy()}
        per_call = time_calls(lambda: session.run(None, feed), args.seconds)
    print(json.dumps({"seconds_per_call": per_call}))


def export_onnx(backbone, path):
    import torch
    from transformers import AutoModel
    model = AutoModel.from_pretrained(backbone, attn_implementation="eager").eval()

    class Encoder(torch.nn.Module):  # keyword arguments, as BertModel wants them
        def __init__(self):
            super().__init__()
            self.bert = model

        def forward(self, input_ids, attention_mask, token_type_ids):
            return self.bert(input_ids=input_ids, attention_mask=attention_mask,
                             token_type_ids=token_type_ids).last_hidden_state

    ids, mask = inputs(2, 16, model.config.vocab_size)
    axes = {0: "batch", 1: "seq"}
    torch.onnx.export(
        Encoder().eval(), (ids, mask, torch.zeros_like(ids)), path,
        input_names=["input_ids", "attention_mask", "token_type_ids"],
        output_names=["last_hidden_state"],
        dynamic_axes={"input_ids": axes, "attention_mask": axes, "token_type_ids": axes},
        opset_version=17, dynamo=False)


def run_ptune(binary, threads, backbone, batch, seq, seconds):
    out = subprocess.run(
        [binary, "bench-forward", "--backbone", backbone, "--device", "cpu",
         "--batch", str(batch), "--seq", str(seq), "--prompt", "0",
         "--seconds", str(seconds), "--threads", str(threads)],
        check=True, capture_output=True, text=True)
    figure = json.loads(out.stdout.strip().splitlines()[-1])
    return figure["ms_per_batch"] / 1e3, figure


def run_peer(kind, args, batch, seq, onnx_path):
    cmd = [sys.executable, __file__, "--worker", kind, "--backbone", args.backbone,
           "--batch", str(batch), "--seq", str(seq), "--seconds", str(args.seconds),
           "--threads", str(args.threads), "--onnx", onnx_path]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])["seconds_per_call"]


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--backbone", required=True)
    p.add_argument("--ptune", action="append", default=[],
                   help="LABEL=PATH[:THREADS] of a ptune-inspect binary (THREADS: its --threads, 0 = its default)")
    p.add_argument("--shapes", default="32x84,1x16", help="comma-separated BATCHxTOKENS")
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--seconds", type=float, default=3.0)
    p.add_argument("--threads", type=int, default=2, help="the peers' thread budget")
    p.add_argument("--no-onnx", action="store_true")
    p.add_argument("--worker", choices=["torch", "onnx"], help=argparse.SUPPRESS)
    p.add_argument("--batch", type=int, help=argparse.SUPPRESS)
    p.add_argument("--seq", type=int, help=argparse.SUPPRESS)
    p.add_argument("--onnx", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.worker:
        return worker(args)

    contenders = []
    for spec in args.ptune:
        label, _, rest = spec.partition("=")
        path, _, threads = rest.partition(":")
        contenders.append(("ptune " + label, "ptune", (path, int(threads or 0))))
    contenders.append(("PyTorch eager (transformers, SDPA)", "torch", None))
    tmp = tempfile.mkdtemp()
    onnx_path = os.path.join(tmp, "model.onnx")
    if not args.no_onnx:
        export_onnx(args.backbone, onnx_path)
        contenders.append(("ONNX Runtime", "onnx", None))

    env = {k: os.environ.get(k, "") for k in ("OPENBLAS_CORETYPE", "OMP_NUM_THREADS")}
    print(f"# {time.strftime('%Y-%m-%d %H:%M')} threads={args.threads} env={env} "
          f"load={os.getloadavg()[0]:.2f}", flush=True)
    for shape in args.shapes.split(","):
        batch, seq = (int(x) for x in shape.split("x"))
        rates = {name: [] for name, _, _ in contenders}
        for r in range(args.rounds):
            order = contenders[r % len(contenders):] + contenders[:r % len(contenders)]
            for name, kind, extra in order:
                if kind == "ptune":
                    seconds, _ = run_ptune(extra[0], extra[1], args.backbone, batch, seq, args.seconds)
                else:
                    seconds = run_peer(kind, args, batch, seq, onnx_path)
                rates[name].append(batch / seconds)
            print(f"# {shape} round {r + 1}: " +
                  ", ".join(f"{n} {v[-1]:.1f}" for n, v in rates.items()), flush=True)
        reference = max(rates[contenders[0][0]])
        print(f"\nbatch {batch} x {seq} tokens, sequences/s, {args.rounds} alternating rounds\n")
        print("| contender | per round | best | best / " + contenders[0][0] + " |")
        print("| --- | --- | --- | --- |")
        for name, values in rates.items():
            print(f"| {name} | {', '.join(f'{v:.1f}' for v in values)} | **{max(values):.1f}** "
                  f"| {max(values) / reference:.2f} |")
        print(flush=True)


if __name__ == "__main__":
    main()
