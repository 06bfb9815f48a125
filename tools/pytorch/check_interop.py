#!/usr/bin/python3
"""make interop: a model crosses between tapegrad and PyTorch, both ways, and means the same on each side:
RNNsearch (tools/pytorch/rnnsearch.py) and the Transformer (tools/pytorch/transformer.py), each:

  1. tapegrad trains a small model (translator train); PyTorch loads the checkpoint folder
     (rnnsearch.load_checkpoint) and must give the same loss and gradients on held-out pairs (to 1e-5,
     against `translator grads`) and the same greedy translations (against `translator translate`).
  2. PyTorch trains that model further (Adam, its own loop) and writes it back (save_checkpoint);
     tapegrad loads it and must again agree on loss, gradients and translations, and `translator eval`
     scores it.

Usage: tools/pytorch/check_interop.py TRANSLATOR WORKDIR
"""
import os
import subprocess
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import rnnsearch  # noqa: E402
import transformer  # noqa: E402

TOL = 1e-5


def run(*args, stdin=None):
    r = subprocess.run([str(a) for a in args], input=stdin, capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit(f"failed ({r.returncode}): {' '.join(map(str, args))}\n{r.stdout}{r.stderr}")
    return r.stdout


def compare(label, model, src_vocab, tgt_vocab, checkpoint, pairs_file, translator, work):
    """Loss, gradients and greedy translations of `model` (PyTorch) against tapegrad on the same folder."""
    pairs = rnnsearch.read_pairs(pairs_file)
    model.zero_grad()
    loss = model.loss(*rnnsearch.encode_pairs(pairs, src_vocab, tgt_vocab))
    loss.backward()
    grads_dir = os.path.join(work, f"grads-{label}")
    out = run(translator, "grads", "--checkpoint", checkpoint, "--data", pairs_file, "--out", grads_dir)
    tg_loss = float(out.split()[1])  # "loss 1.2345678 over ..."
    worst_name, worst = "", 0.0
    for name, p in model.named_parameters():
        ours = np.load(os.path.join(grads_dir, name + ".npy"))
        theirs = p.grad.numpy()
        scale = max(1.0, float(np.abs(theirs).max()))
        diff = float(np.abs(ours - theirs).max()) / scale
        if diff > worst:
            worst_name, worst = name, diff
    loss_diff = abs(tg_loss - loss.item()) / max(1.0, abs(loss.item()))
    sources = [s for s, _ in pairs]
    theirs = rnnsearch.translate(model, src_vocab, tgt_vocab, sources)
    ours = run(translator, "translate", "--checkpoint", checkpoint, stdin="".join(s + "\n" for s in sources)).splitlines()
    same = sum(a == b for a, b in zip(ours, theirs))
    ok = loss_diff <= TOL and worst <= TOL and same == len(sources) == len(ours)
    print(f"{label}: loss tapegrad {tg_loss:.7f} PyTorch {loss.item():.7f} (difference {loss_diff:.1e}); "
          f"gradients: largest difference {worst:.1e} of the largest entry ({worst_name}); "
          f"greedy translations identical: {same}/{len(sources)}  {'ok' if ok else 'FAILED'}")
    if same != len(sources):
        for s, a, b in zip(sources, ours, theirs):
            if a != b:
                print(f"  source: {s}\n  tapegrad: {a}\n  PyTorch:  {b}")
                break
    return ok


def round_trip(name, bridge, train_args, translator, work):
    """tapegrad trains, PyTorch loads and agrees; PyTorch trains on, tapegrad loads and agrees."""
    data = os.path.join(work, "test.tsv")
    # 1. tapegrad -> PyTorch
    tg_dir = os.path.join(work, f"tapegrad-{name}")
    run(translator, "train", "--train", os.path.join(work, "train.tsv"), "--valid", os.path.join(work, "valid.tsv"),
        "--out", tg_dir, "--batch", 32, "--seed", 5, *train_args)
    model, sv, tv = bridge.load_checkpoint(tg_dir)
    ok = compare(f"{name}, tapegrad -> PyTorch", model, sv, tv, tg_dir, data, translator, work)

    # 2. PyTorch trains it further and writes it back -> tapegrad
    train_pairs = rnnsearch.read_pairs(os.path.join(work, "train.tsv"))
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    first = last = None
    for step in range(150):
        batch = [train_pairs[(step * 32 + k) % len(train_pairs)] for k in range(32)]
        opt.zero_grad()
        loss = model.loss(*rnnsearch.encode_pairs(batch, sv, tv))
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        first = loss.item() if first is None else first
        last = loss.item()
    print(f"{name}: PyTorch trained 150 more steps: training loss {first:.4f} -> {last:.4f}")
    torch_dir = os.path.join(work, f"pytorch-{name}")
    bridge.save_checkpoint(model, sv, tv, torch_dir)
    ok = compare(f"{name}, PyTorch -> tapegrad", model, sv, tv, torch_dir, data, translator, work) and ok
    report = run(translator, "eval", "--checkpoint", torch_dir, "--data", data, "--json")
    print(f"translator eval of the PyTorch-trained {name}:", report.strip()[:120], "...")
    return ok


def main():
    translator, work = sys.argv[1], sys.argv[2]
    os.makedirs(work, exist_ok=True)
    torch.manual_seed(0)
    torch.set_num_threads(1)
    for split, n, seed in (("train", 3000, 1), ("valid", 200, 2), ("test", 100, 3)):
        run(translator, "generate", "--task", "local", "--n", n, "--seed", seed, "--max-len", 12, "--split", split,
            "--out", os.path.join(work, split))
    ok = round_trip("rnnsearch", rnnsearch, ["--epochs", 4, "--emb", 16, "--hidden", 32, "--attn", 16], translator, work)
    ok = round_trip("transformer", transformer, ["--epochs", 4, "--arch", "transformer", "--model-dim", 16, "--ff-dim", 32,
                                                 "--layers", 2, "--heads", 2, "--warmup", 100, "--lr-decay", "inverse-sqrt"],
                    translator, work) and ok
    print("interop: ok" if ok else "interop: FAILED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
