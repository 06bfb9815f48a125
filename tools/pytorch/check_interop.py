#!/usr/bin/python3
"""make interop: a model crosses between tapegrad and PyTorch, both ways, and means the same on each side:
RNNsearch (tools/pytorch/rnnsearch.py) and the Transformer (tools/pytorch/transformer.py), each:

  1. tapegrad trains a small model (translator train); PyTorch loads the checkpoint folder
     (load_checkpoint) and must give the same loss and gradients on held-out pairs (to 1e-5, against
     `translator grads`) and the same greedy translations (against `translator translate`).
  2. PyTorch trains that model further (Adam, its own loop) and writes it back (save_checkpoint);
     tapegrad loads it and must again agree on loss, gradients and translations, and `translator eval`
     scores it.

and step 1 for every other model `translator train` makes: each score function, the LSTM, RNNencdec,
tied embeddings with a deep output, and a subword model (SentencePiece, python3-sentencepiece).
Then training across processes (tools/pytorch/train_ddp.py): the same steps on the same pairs in 1
and in 2 processes (DistributedDataParallel, gloo) reach the same validation loss (within 2%), and
the checkpoint written back translates the same in PyTorch and in tapegrad.

Usage: tools/pytorch/check_interop.py TRANSLATOR WORKDIR
"""
import json
import os
import subprocess
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bridge  # noqa: E402
import rnnsearch  # noqa: E402
import transformer  # noqa: E402

TOL = 1e-5


def run(*args, stdin=None):
    r = subprocess.run([str(a) for a in args], input=stdin, capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit(f"failed ({r.returncode}): {' '.join(map(str, args))}\n{r.stdout}{r.stderr}")
    return r.stdout


def compare(label, model, src, tgt, checkpoint, pairs_file, translator, work):
    """Loss, gradients and greedy translations of `model` (PyTorch) against tapegrad on the same folder."""
    pairs = bridge.read_pairs(pairs_file)
    model.zero_grad()
    loss = model.loss(*bridge.encode_pairs(pairs, src, tgt))
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
    theirs = bridge.translate(model, src, tgt, sources)
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


def one_way(name, module, train_args, translator, work):
    """tapegrad trains; PyTorch loads the folder and agrees. Returns (ok, model, src, tgt)."""
    tg_dir = os.path.join(work, f"tapegrad-{name}")
    run(translator, "train", "--train", os.path.join(work, "train.tsv"), "--valid", os.path.join(work, "valid.tsv"),
        "--out", tg_dir, "--batch", 32, "--seed", 5, *train_args)
    model, sv, tv = module.load_checkpoint(tg_dir)
    ok = compare(f"{name}, tapegrad -> PyTorch", model, sv, tv, tg_dir, os.path.join(work, "test.tsv"), translator, work)
    return ok, model, sv, tv


def round_trip(name, module, train_args, translator, work):
    """tapegrad trains, PyTorch loads and agrees; PyTorch trains on, tapegrad loads and agrees."""
    data = os.path.join(work, "test.tsv")
    # 1. tapegrad -> PyTorch
    ok, model, sv, tv = one_way(name, module, train_args, translator, work)

    # 2. PyTorch trains it further and writes it back -> tapegrad
    train_pairs = bridge.read_pairs(os.path.join(work, "train.tsv"))
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    first = last = None
    for step in range(150):
        batch = [train_pairs[(step * 32 + k) % len(train_pairs)] for k in range(32)]
        opt.zero_grad()
        loss = model.loss(*bridge.encode_pairs(batch, sv, tv))
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        first = loss.item() if first is None else first
        last = loss.item()
    print(f"{name}: PyTorch trained 150 more steps: training loss {first:.4f} -> {last:.4f}")
    torch_dir = os.path.join(work, f"pytorch-{name}")
    module.save_checkpoint(model, sv, tv, torch_dir)
    ok = compare(f"{name}, PyTorch -> tapegrad", model, sv, tv, torch_dir, data, translator, work) and ok
    report = run(translator, "eval", "--checkpoint", torch_dir, "--data", data, "--json")
    print(f"translator eval of the PyTorch-trained {name}:", report.strip()[:120], "...")
    return ok


def distributed(translator, work):
    """train_ddp.py in 1 and 2 processes from the tapegrad-trained RNNsearch; the result back in tapegrad."""
    script = os.path.join(os.path.dirname(os.path.abspath(__file__)), "train_ddp.py")
    losses = {}
    for n in (1, 2):
        out = os.path.join(work, f"ddp-{n}")
        line = run(sys.executable, script, "--checkpoint", os.path.join(work, "tapegrad-rnnsearch"), "--train",
                   os.path.join(work, "train.tsv"), "--valid", os.path.join(work, "valid.tsv"), "--out", out,
                   "--steps", 150, "--batch", 32, "--nproc", n)
        result = json.loads(line.strip().splitlines()[-1])
        losses[n] = result["valid_loss"]
        print(f"train_ddp.py, {n} process(es): {result['steps']} steps of {result['examples'] // result['steps']} pairs, "
              f"validation loss {result['valid_loss']:.4f}, {result['seconds']} s")
    gap = abs(losses[2] - losses[1]) / losses[1]
    ok = gap <= 0.02
    print(f"1 against 2 processes: validation loss {losses[1]:.4f} and {losses[2]:.4f}, {100 * gap:.2f}% apart "
          f"(within 2%: {'ok' if ok else 'FAILED'})")
    out = os.path.join(work, "ddp-2")
    model, sv, tv = rnnsearch.load_checkpoint(out)
    model.eval()
    sources = [s for s, _ in bridge.read_pairs(os.path.join(work, "test.tsv"))]
    theirs = bridge.translate(model, sv, tv, sources)
    ours = run(translator, "translate", "--checkpoint", out, stdin="".join(s + "\n" for s in sources)).splitlines()
    same = sum(a == b for a, b in zip(ours, theirs))
    print(f"the 2-process model in tapegrad and PyTorch: greedy translations identical {same}/{len(sources)}  "
          f"{'ok' if same == len(sources) == len(ours) else 'FAILED'}")
    report = run(translator, "eval", "--checkpoint", out, "--data", os.path.join(work, "test.tsv"), "--json")
    print("translator eval of it:", report.strip()[:120], "...")
    return ok and same == len(sources) == len(ours)


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
    ok = distributed(translator, work) and ok
    small = ["--epochs", 1, "--emb", 16, "--hidden", 32]
    for name, args in (("lstm-multi_head", ["--cell", "lstm", "--attention", "multi_head", "--heads", 2]),
                       ("gru-dot", ["--attention", "dot"]),
                       ("gru-scaled_dot", ["--attention", "scaled_dot"]),
                       ("gru-general-tied", ["--attention", "general", "--deep-output", 16, "--tie-embeddings"]),
                       ("rnnencdec-lstm", ["--no-attention", "--cell", "lstm"]),
                       ("mgu", ["--cell", "mgu"]),
                       ("subwords", ["--subwords", 40])):
        ok = one_way(name, rnnsearch, small + args, translator, work)[0] and ok
    ok = one_way("transformer-subwords-pre-norm", transformer, ["--epochs", 1, "--arch", "transformer", "--model-dim", 16,
                 "--ff-dim", 32, "--layers", 1, "--heads", 2, "--pre-norm", "--subwords", 40], translator, work)[0] and ok
    print("interop: ok" if ok else "interop: FAILED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
