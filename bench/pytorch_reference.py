#!/usr/bin/python3
"""The translator's model (../shared/spec/rnnsearch.md) in PyTorch, written as a PyTorch user
would (nn.Embedding, nn.GRU, nn.GRUCell, nn.Linear), timed like bench/train_step: same flags,
same JSON keys. Needs Debian's python3-torch.

  bench/pytorch_reference.py --batch 32 --emb 64 --hidden 128 --attn 128 --vocab 40 \
      --src-len 20 --tgt-len 20 --steps 50 --threads 1 [--no-attention] [--decode]
"""
import argparse
import json
import os
import resource
import statistics
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

PAD, BOS, EOS = 0, 2, 3


class RNNSearch(nn.Module):
    def __init__(self, vocab, emb, hidden, attn, attention):
        super().__init__()
        self.attention = attention
        self.src_embed = nn.Embedding(vocab, emb, padding_idx=PAD)
        self.tgt_embed = nn.Embedding(vocab, emb, padding_idx=PAD)
        self.encoder = nn.GRU(emb, hidden, batch_first=True, bidirectional=True)
        self.bridge = nn.Linear(hidden, hidden)
        if attention:
            self.query = nn.Linear(hidden, attn, bias=False)
            self.key = nn.Linear(2 * hidden, attn)
            self.v = nn.Parameter(torch.empty(attn).uniform_(-attn ** -0.5, attn ** -0.5))
        self.decoder = nn.GRUCell(emb + 2 * hidden, hidden)
        self.output = nn.Linear(3 * hidden + emb, vocab)

    def encode(self, src):
        annotations, h_n = self.encoder(self.src_embed(src))  # every sentence full length: no packing
        s = torch.tanh(self.bridge(h_n[1]))                     # s_0 from the backward state at the first word
        keys = self.key(annotations) if self.attention else None
        fixed = None if self.attention else torch.cat([h_n[0], h_n[1]], 1)
        return annotations, keys, fixed, s

    def step(self, annotations, keys, fixed, s, y_prev_emb):
        if self.attention:
            e = torch.tanh(self.query(s).unsqueeze(1) + keys) @ self.v   # [B, S]
            alpha = torch.softmax(e, 1)
            c = torch.bmm(alpha.unsqueeze(1), annotations).squeeze(1)
        else:
            c = fixed
        s = self.decoder(torch.cat([y_prev_emb, c], 1), s)
        return s, self.output(torch.cat([s, c, y_prev_emb], 1))

    def loss(self, src, dec_in, dec_out):
        annotations, keys, fixed, s = self.encode(src)
        y = self.tgt_embed(dec_in)
        logits = []
        for i in range(dec_in.shape[1]):
            s, l = self.step(annotations, keys, fixed, s, y[:, i])
            logits.append(l)
        logits = torch.stack(logits, 1)
        return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), dec_out.reshape(-1), ignore_index=PAD)

    @torch.no_grad()
    def greedy(self, src, steps):
        annotations, keys, fixed, s = self.encode(src)
        prev = torch.full((src.shape[0],), BOS, dtype=torch.long)
        for _ in range(steps):
            s, logits = self.step(annotations, keys, fixed, s, self.tgt_embed(prev))
            prev = logits.argmax(1)


def current_rss_mb():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGESIZE") / (1024 * 1024)


def main():
    p = argparse.ArgumentParser()
    for name, default in (("batch", 32), ("emb", 64), ("hidden", 128), ("attn", 128), ("vocab", 40), ("src-len", 20),
                          ("tgt-len", 20), ("steps", 50), ("threads", 1)):
        p.add_argument("--" + name, type=int, default=default)
    p.add_argument("--no-attention", action="store_true")
    p.add_argument("--decode", action="store_true")
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(1)
    model = RNNSearch(a.vocab, a.emb, a.hidden, a.attn, not a.no_attention)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    src = torch.randint(4, a.vocab, (a.batch, a.src_len))
    src[:, -1] = EOS
    tgt = torch.randint(4, a.vocab, (a.batch, a.tgt_len - 1))
    dec_in = torch.cat([torch.full((a.batch, 1), BOS), tgt], 1)
    dec_out = torch.cat([tgt, torch.full((a.batch, 1), EOS)], 1)

    def one_step():
        if a.decode:
            model.greedy(src, a.tgt_len)
            return
        opt.zero_grad()
        model.loss(src, dec_in, dec_out).backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()

    for _ in range(5):
        one_step()
    rss_start = current_rss_mb()
    times = []
    for _ in range(a.steps):
        t = time.perf_counter()
        one_step()
        times.append((time.perf_counter() - t) * 1000)
    med = statistics.median(times)
    print(json.dumps({
        "framework": "pytorch " + torch.__version__, "mode": "decode" if a.decode else "train", "batch": a.batch,
        "emb": a.emb, "hidden": a.hidden, "attn": a.attn, "vocab": a.vocab, "src_len": a.src_len, "tgt_len": a.tgt_len,
        "threads": a.threads, "attention": not a.no_attention, "steps": a.steps,
        "median_ms": round(med, 3), "min_ms": round(min(times), 3),
        "tgt_tokens_per_s": round(a.batch * a.tgt_len / (med / 1000)),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "allocs_per_step": None, "limit_ms": None, "median_over_limit": None,
        "rss_start_mb": round(rss_start, 1), "rss_end_mb": round(current_rss_mb(), 1)}))


if __name__ == "__main__":
    main()
