#!/usr/bin/env python3
"""Classify throughput with 1, 2 and 3 ptune-server replicas on one PostgreSQL.

Starts 3 real replicas on loopback (the built binaries), trains one prompt
through the CLI, then drives Classify over gRPC from client threads spread
round-robin over the first N replicas, for N = 1, 2, 3 in alternating rounds
(this machine's speed drifts; report best-of and the ratio to N = 1).

  python3 -m venv /tmp/benchvenv && /tmp/benchvenv/bin/pip install grpcio grpcio-tools
  deploy/local/postgres.sh start
  PGPASSFILE=/tmp/ptune-pg-$(id -u)/pgpass /tmp/benchvenv/bin/python \
    tests/bench/replicas_bench.py --backbone $PTUNE_BACKBONE_DIR \
    --store postgresql://ptune@127.0.0.1:54329/ptune

Every replica shares the machine's cores, so on one small machine this
measures the cost of running N processes against one database (and that
the database is off the hot path), not the scale-out of N machines.
"""
import argparse
import os
import re
import secrets
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def stubs(out):
    import grpc_tools
    from grpc_tools import protoc
    proto_dir = os.path.join(ROOT, "proto")
    well_known = os.path.join(os.path.dirname(grpc_tools.__file__), "_proto")
    rc = protoc.main(["protoc", f"-I{proto_dir}", f"-I{well_known}", f"--python_out={out}",
                      f"--grpc_python_out={out}",
                      os.path.join(proto_dir, "ptune/v1/ptune.proto")])
    if rc != 0:
        sys.exit("protoc failed")
    sys.path.insert(0, out)
    from ptune.v1 import ptune_pb2, ptune_pb2_grpc
    return ptune_pb2, ptune_pb2_grpc


def start_server(args, work, i, admin_key_file):
    log = open(os.path.join(work, f"server-{i}.err"), "w")
    proc = subprocess.Popen(
        [args.server, "--listen=127.0.0.1:0", "--metrics_listen=127.0.0.1:0",
         f"--store={args.store}", f"--admin_key_file={admin_key_file}",
         f"--backbone_dir={args.backbone}", "--device=cpu", f"--replica_id=bench-{i}",
         f"--data_dir={work}"],
        stdout=subprocess.PIPE, stderr=log, text=True)
    for line in proc.stdout:
        m = re.search(r'"grpc_port":(\d+)', line)
        if m:
            return proc, f"127.0.0.1:{m.group(1)}"
    sys.exit(f"replica {i} did not start; see {log.name}")


def cli(args, address, key, *rest):
    out = subprocess.run([args.cli, *rest, f"--addr={address}", f"--api_key={key}"],
                         capture_output=True, text=True, check=True)
    return out.stdout


def measure(pb2, pb2_grpc, addresses, key, clients, seconds, texts_per_call):
    import grpc
    texts = ["the food was wonderful and the staff friendly"] * texts_per_call
    done = [0] * clients
    errors = [0] * clients
    stop = time.monotonic() + seconds

    def run(c):
        channel = grpc.insecure_channel(addresses[c % len(addresses)])
        stub = pb2_grpc.PromptServiceStub(channel)
        request = pb2.ClassifyRequest(prompt_name="bench", texts=texts)
        metadata = (("authorization", f"Bearer {key}"),)
        while time.monotonic() < stop:
            try:
                stub.Classify(request, metadata=metadata, timeout=30)
                done[c] += texts_per_call
            except grpc.RpcError:
                errors[c] += 1

    threads = [threading.Thread(target=run, args=(c,)) for c in range(clients)]
    start = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return sum(done) / (time.monotonic() - start), sum(errors)


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--server", default=os.path.join(ROOT, "build/server/service/ptune-server"))
    p.add_argument("--cli", default=os.path.join(ROOT, "build/client/ptune"))
    p.add_argument("--backbone", required=True)
    p.add_argument("--store", required=True, help="postgresql:// URL (PGPASSFILE for the password)")
    p.add_argument("--clients", type=int, default=12)
    p.add_argument("--texts_per_call", type=int, default=4)
    p.add_argument("--seconds", type=float, default=8)
    p.add_argument("--rounds", type=int, default=3)
    args = p.parse_args()

    work = tempfile.mkdtemp(prefix="ptune-replicas-bench-")
    pb2, pb2_grpc = stubs(work)
    admin_key = secrets.token_hex(32)
    admin_key_file = os.path.join(work, "admin.key")
    with open(admin_key_file, "w") as f:
        f.write(admin_key)
    servers = [start_server(args, work, i, admin_key_file) for i in range(3)]
    addresses = [a for _, a in servers]
    try:
        tenant = cli(args, addresses[0], admin_key, "admin", "create-tenant",
                     f"bench-{secrets.token_hex(4)}", "--requests_per_second", "100000",
                     "--burst", "100000", "--json")
        tenant_id = re.search(r'"id":\s*"([^"]+)"', tenant).group(1)
        key = re.search(r'"apiKey":\s*"([^"]+)"',
                        cli(args, addresses[0], admin_key, "admin", "create-key", tenant_id,
                            "--json")).group(1)
        cli(args, addresses[0], key, "train", "--name", "bench", "--task", "classify",
            "--train", os.path.join(ROOT, "client/examples/sentiment.tsv"), "--epochs", "1",
            "--length", "8", "--wait")
        measure(pb2, pb2_grpc, addresses, key, args.clients, 2, args.texts_per_call)  # warm
        best = {}
        for r in range(args.rounds):
            for n in (1, 2, 3):
                tps, errors = measure(pb2, pb2_grpc, addresses[:n], key, args.clients,
                                      args.seconds, args.texts_per_call)
                print(f"round {r + 1}: {n} replica(s): {tps:.1f} texts/s, {errors} errors",
                      flush=True)
                best[n] = max(best.get(n, 0), tps)
        print(f"\nbest of {args.rounds} ({args.clients} clients x {args.texts_per_call} texts"
              f" per call, {os.cpu_count()} cores):")
        for n in (1, 2, 3):
            print(f"  {n} replica(s): {best[n]:.1f} texts/s  ratio {best[n] / best[1]:.2f}")
    finally:
        for proc, _ in servers:
            proc.terminate()
        for proc, _ in servers:
            proc.wait(timeout=60)


if __name__ == "__main__":
    main()
