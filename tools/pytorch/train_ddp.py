#!/usr/bin/python3
"""Training beyond one process: a tapegrad checkpoint trained further in PyTorch with
DistributedDataParallel (torch.distributed, the gloo backend: CPUs, no GPU needed), from the same TSV
files `translator train` reads, and written back as a tapegrad checkpoint that `translator eval` scores.

Each step takes the next --batch pairs of the shuffled training set (the same order in every
process) and gives process r of N the pairs r, r + N, r + 2N, ...: each computes its share's loss and
gradients, DDP averages the gradients across processes while backward runs, and every process takes
the same Adam step (tapegrad's defaults: lr 1e-3, gradients clipped to norm 1). So N processes see
the same examples per step as one, each doing 1/N of the work.

One machine, N processes (started here, on loopback):
    tools/pytorch/train_ddp.py --checkpoint build/demo/model --train T.tsv --valid V.tsv --out DIR --nproc 2
Several machines: the same script under torchrun (python3 -m torch.distributed.run), which sets RANK,
WORLD_SIZE, MASTER_ADDR and MASTER_PORT:
    python3 -m torch.distributed.run --nnodes 2 --nproc_per_node 2 --rdzv_endpoint HOST:29500 \\
        tools/pytorch/train_ddp.py --checkpoint ... --out DIR

Prints one JSON line: processes, steps, examples, validation loss, seconds. Needs python3-torch
(and python3-sentencepiece for a subword model); run with /usr/bin/python3.
"""
import argparse
import json
import os
import random
import socket
import sys
import time

import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from torch.nn.parallel import DistributedDataParallel

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bridge  # noqa: E402
import rnnsearch  # noqa: E402
import transformer  # noqa: E402


def load(path):
    """The checkpoint's model, by its config.txt's architecture, and the module that saves it."""
    module = transformer if bridge.read_config(path).get("arch") == "transformer" else rnnsearch
    model, src, tgt = module.load_checkpoint(path)
    return module, model, src, tgt


@torch.no_grad()
def validation_loss(model, pairs, src, tgt, batch=64):
    """Mean -log p over every target token of `pairs` (teacher forcing), as `translator train` reports it."""
    model.eval()
    total, tokens = 0.0, 0
    for k in range(0, len(pairs), batch):
        source, lengths, dec_in, dec_out = bridge.encode_pairs(pairs[k:k + batch], src, tgt)
        n = int((dec_out != bridge.PAD).sum())
        total += model.loss(source, lengths, dec_in, dec_out).item() * n
        tokens += n
    model.train()
    return total / tokens


def train(rank, world, a):
    dist.init_process_group("gloo", rank=rank, world_size=world)
    torch.manual_seed(a.seed)
    torch.set_num_threads(a.threads)
    module, model, src, tgt = load(a.checkpoint)
    model.train()
    ddp = DistributedDataParallel(model)
    opt = torch.optim.Adam(model.parameters(), lr=a.lr)
    pairs = bridge.read_pairs(a.train)
    order, at, epoch = [], 0, 0
    start = time.perf_counter()
    for step in range(a.steps):
        if at + a.batch > len(order):  # a new epoch: the same shuffle in every process
            order = list(range(len(pairs)))
            random.Random(a.seed * 1000003 + epoch).shuffle(order)
            at, epoch = 0, epoch + 1
        mine = [pairs[i] for i in order[at + rank:at + a.batch:world]]
        at += a.batch
        opt.zero_grad()
        loss = ddp(*bridge.encode_pairs(mine, src, tgt))  # the model's forward is its loss
        loss.backward()  # DDP averages the gradients across the processes here
        torch.nn.utils.clip_grad_norm_(model.parameters(), a.clip)
        opt.step()
    seconds = time.perf_counter() - start
    if rank == 0:
        valid = validation_loss(model, bridge.read_pairs(a.valid), src, tgt)
        module.save_checkpoint(model, src, tgt, a.out)
        print(json.dumps({"processes": world, "steps": a.steps, "examples": a.steps * a.batch,
                          "valid_loss": float(f"{valid:.6g}"), "seconds": round(seconds, 2), "out": a.out}), flush=True)
    dist.destroy_process_group()


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--checkpoint", required=True, help="a tapegrad checkpoint folder (any model translator train makes)")
    p.add_argument("--train", required=True, help="training pairs (TSV)")
    p.add_argument("--valid", required=True, help="validation pairs (TSV): the loss after training")
    p.add_argument("--out", required=True, help="a new folder: the trained model as a tapegrad checkpoint")
    p.add_argument("--steps", type=int, default=200)
    p.add_argument("--batch", type=int, default=32, help="pairs per step, over all processes")
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--clip", type=float, default=1.0)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--nproc", type=int, default=2, help="processes on this machine (ignored under torchrun)")
    p.add_argument("--threads", type=int, default=1, help="PyTorch threads per process")
    a = p.parse_args()
    if os.path.exists(a.out) and os.listdir(a.out):
        sys.exit(f"--out {a.out}: not empty; choose a new folder")
    if "RANK" in os.environ:  # under torchrun: it started this process and set the rendezvous
        train(int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"]), a)
        return
    if a.batch % a.nproc:
        sys.exit(f"--batch {a.batch}: must be a multiple of --nproc {a.nproc}")
    with socket.socket() as s:  # a free loopback port for the processes' rendezvous
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    mp.spawn(train, args=(a.nproc, a), nprocs=a.nproc)


if __name__ == "__main__":
    main()
