#!/usr/bin/python3
"""The translator's model (docs/model.md) in PyTorch, written as a PyTorch user
would (nn.Embedding, nn.GRU, nn.GRUCell, nn.Linear), timed like bench/train_step: same flags,
same JSON keys. Needs Debian's python3-torch.

  bench/pytorch_reference.py --batch 32 --emb 64 --hidden 128 --attn 128 --vocab 40 \
      --src-len 20 --tgt-len 20 --steps 50 --threads 1 [--no-attention] [--decode [--beam K]] [--vary-lengths]

--vary-lengths: the same sentence lengths and batches as train_step --vary-lengths (the same
SplitMix64 generator), padded sources packed for the encoder and masked in attention, as a PyTorch
user would train on real data.

  bench/pytorch_reference.py --arch transformer --model-dim 64 --ff-dim 256 --layers 2 --heads 4 ...

--arch transformer: the Transformer as a PyTorch user builds it (nn.TransformerEncoder and
nn.TransformerDecoder of nn.Transformer*Layer, batch_first, post-norm, dropout off), sinusoidal
positions, embeddings scaled by sqrt(d). PyTorch's decoder layers keep no cache of keys and values, so
greedy decoding and beam search here cache them as tapegrad does, through the layers' own weights
(Transformer.step): the same work per word in both.

  bench/pytorch_reference.py --train-file train.tsv --seconds 45 [--epochs N] [--emb ..]

--train-file: trains on a translator TSV file (source TAB target, space-separated words) with the
translator's batching, for the peak memory of a real run beside `translator train` on the same file.
"""
import argparse
import ctypes
import json
import os
import resource
import statistics
import sys
import time

# torch.set_num_threads() sets PyTorch's own threads, not those of the OpenBLAS it calls for matrix
# products (Debian's build), which start one per core unless told otherwise before the library loads:
# "--threads 1" ran its products on both cores (measured: CPU time 1.25x the wall time, greedy decoding
# at vocabulary 16,000 in 66 ms instead of 112). So the thread count goes to OpenBLAS first.
_threads = sys.argv[sys.argv.index("--threads") + 1] if "--threads" in sys.argv[:-1] else "1"
os.environ["OPENBLAS_NUM_THREADS"] = _threads
os.environ["OMP_NUM_THREADS"] = _threads

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

    def encode(self, src, lengths=None):
        x = self.src_embed(src)
        if lengths is None:  # every sentence full length: no packing
            annotations, h_n = self.encoder(x)
        else:
            packed = nn.utils.rnn.pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)
            out, h_n = self.encoder(packed)
            annotations, _ = nn.utils.rnn.pad_packed_sequence(out, batch_first=True, total_length=src.shape[1])
        s = torch.tanh(self.bridge(h_n[1]))                     # s_0 from the backward state at the first word
        keys = self.key(annotations) if self.attention else None
        fixed = None if self.attention else torch.cat([h_n[0], h_n[1]], 1)
        self.pad_mask = None if lengths is None else src == PAD
        return annotations, keys, fixed, s

    def step(self, annotations, keys, fixed, s, y_prev_emb):
        if self.attention:
            e = torch.tanh(self.query(s).unsqueeze(1) + keys) @ self.v   # [B, S]
            if self.pad_mask is not None:
                e = e.masked_fill(self.pad_mask, float("-inf"))
            alpha = torch.softmax(e, 1)
            c = torch.bmm(alpha.unsqueeze(1), annotations).squeeze(1)
        else:
            c = fixed
        s = self.decoder(torch.cat([y_prev_emb, c], 1), s)
        return s, self.output(torch.cat([s, c, y_prev_emb], 1))

    def loss(self, src, dec_in, dec_out, lengths=None):
        annotations, keys, fixed, s = self.encode(src, lengths)
        y = self.tgt_embed(dec_in)
        logits = []
        for i in range(dec_in.shape[1]):
            s, l = self.step(annotations, keys, fixed, s, y[:, i])
            logits.append(l)
        logits = torch.stack(logits, 1)
        return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), dec_out.reshape(-1), ignore_index=PAD)

    @torch.no_grad()
    def greedy(self, src, steps, lengths=None):
        annotations, keys, fixed, s = self.encode(src, lengths)
        prev = torch.full((src.shape[0],), BOS, dtype=torch.long)
        for _ in range(steps):
            s, logits = self.step(annotations, keys, fixed, s, self.tgt_embed(prev))
            prev = logits.argmax(1)

    @torch.no_grad()
    def beam(self, src, steps, k, lengths=None):
        """Beam search of width k for `steps` steps (</s> an ordinary word, as train_step --beam): each
        sentence encoded once and repeated k times, the k best of k x vocabulary continuations kept."""
        B = src.shape[0]
        annotations, keys, fixed, s = self.encode(src, lengths)
        rep = lambda t: None if t is None else t.repeat_interleave(k, 0)
        annotations, keys, fixed, s = rep(annotations), rep(keys), rep(fixed), rep(s)
        self.pad_mask = rep(self.pad_mask)
        scores = torch.full((B, k), float("-inf"))
        scores[:, 0] = 0.0  # one live hypothesis at the start
        prev = torch.full((B * k,), BOS, dtype=torch.long)
        offsets = (torch.arange(B) * k).unsqueeze(1)
        history = []
        for _ in range(steps):
            s, logits = self.step(annotations, keys, fixed, s, self.tgt_embed(prev))
            log_p = torch.log_softmax(logits, 1).view(B, k, -1)
            V = log_p.shape[2]
            scores, idx = (scores.unsqueeze(2) + log_p).view(B, -1).topk(k, 1)
            parent = (idx // V + offsets).view(-1)
            prev = (idx % V).view(-1)
            s = s[parent]
            history.append((parent, prev))
        return scores, history


class Transformer(nn.Module):
    def __init__(self, vocab, d, ff, layers, heads):
        super().__init__()
        self.d, self.heads = d, heads
        self.src_embed = nn.Embedding(vocab, d, padding_idx=PAD)
        self.tgt_embed = nn.Embedding(vocab, d, padding_idx=PAD)
        enc = nn.TransformerEncoderLayer(d, heads, ff, dropout=0.0, batch_first=True)
        dec = nn.TransformerDecoderLayer(d, heads, ff, dropout=0.0, batch_first=True)
        self.encoder = nn.TransformerEncoder(enc, layers, enable_nested_tensor=False)
        self.decoder = nn.TransformerDecoder(dec, layers)
        self.output = nn.Linear(d, vocab)
        position = torch.arange(1000).unsqueeze(1)
        angle = position / torch.pow(10000.0, torch.arange(0, d, 2) / d)
        self.pe = torch.zeros(1000, d)
        self.pe[:, 0::2], self.pe[:, 1::2] = torch.sin(angle), torch.cos(angle)

    def embed(self, table, ids, first=0):
        return table(ids) * self.d ** 0.5 + self.pe[first:first + ids.shape[1]]

    def encode(self, src, lengths=None):
        self.pad_mask = src == PAD if lengths is not None else None
        return self.encoder(self.embed(self.src_embed, src), src_key_padding_mask=self.pad_mask)

    def loss(self, src, dec_in, dec_out, lengths=None):
        memory = self.encode(src, lengths)
        T = dec_in.shape[1]
        causal = torch.triu(torch.full((T, T), float("-inf")), diagonal=1)
        z = self.decoder(self.embed(self.tgt_embed, dec_in), memory, tgt_mask=causal, memory_key_padding_mask=self.pad_mask)
        logits = self.output(z)
        return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), dec_out.reshape(-1), ignore_index=PAD)

    def split(self, t):  # [B, T, d] -> [B, h, T, d / h]
        B, T, _ = t.shape
        return t.view(B, T, self.heads, -1).transpose(1, 2)

    def attend(self, q, k, v, pad_mask=None):  # Eq. 1 per head, then the heads side by side
        e = (q @ k.transpose(-1, -2)) / (q.shape[-1] ** 0.5)
        if pad_mask is not None:
            e = e.masked_fill(pad_mask[:, None, None, :], float("-inf"))
        out = torch.softmax(e, -1) @ v
        return out.transpose(1, 2).reshape(q.shape[0], q.shape[2], -1)

    def start(self, memory):
        """Each layer's cross-attention keys and values, once per batch; empty self-attention caches."""
        kv = []
        for layer in self.decoder.layers:
            w, b = layer.multihead_attn.in_proj_weight[self.d:], layer.multihead_attn.in_proj_bias[self.d:]
            k, v = F.linear(memory, w, b).chunk(2, -1)
            kv.append((self.split(k), self.split(v)))
        return kv, [None] * len(self.decoder.layers)

    def step(self, cross_kv, cache, prev, i, pad_mask):
        """One word through every decoder layer (post-norm), appending its keys and values to the cache."""
        x = self.embed(self.tgt_embed, prev.unsqueeze(1), i)
        for n, layer in enumerate(self.decoder.layers):
            sa = layer.self_attn
            q, k, v = (self.split(t) for t in F.linear(x, sa.in_proj_weight, sa.in_proj_bias).chunk(3, -1))
            if cache[n] is not None:
                k, v = torch.cat([cache[n][0], k], 2), torch.cat([cache[n][1], v], 2)
            cache[n] = (k, v)
            x = layer.norm1(x + sa.out_proj(self.attend(q, k, v)))
            ca = layer.multihead_attn
            q = self.split(F.linear(x, ca.in_proj_weight[:self.d], ca.in_proj_bias[:self.d]))
            x = layer.norm2(x + ca.out_proj(self.attend(q, *cross_kv[n], pad_mask)))
            x = layer.norm3(x + layer.linear2(F.relu(layer.linear1(x))))
        return self.output(x.squeeze(1))

    @torch.no_grad()
    def greedy(self, src, steps, lengths=None):
        cross_kv, cache = self.start(self.encode(src, lengths))
        prev = torch.full((src.shape[0],), BOS, dtype=torch.long)
        for i in range(steps):
            prev = self.step(cross_kv, cache, prev, i, self.pad_mask).argmax(1)

    @torch.no_grad()
    def beam(self, src, steps, k, lengths=None):
        B = src.shape[0]
        memory = self.encode(src, lengths)
        cross_kv, cache = self.start(memory.repeat_interleave(k, 0))
        pad_mask = None if self.pad_mask is None else self.pad_mask.repeat_interleave(k, 0)
        scores = torch.full((B, k), float("-inf"))
        scores[:, 0] = 0.0
        prev = torch.full((B * k,), BOS, dtype=torch.long)
        offsets = (torch.arange(B) * k).unsqueeze(1)
        for i in range(steps):
            log_p = torch.log_softmax(self.step(cross_kv, cache, prev, i, pad_mask), 1).view(B, k, -1)
            V = log_p.shape[2]
            scores, idx = (scores.unsqueeze(2) + log_p).view(B, -1).topk(k, 1)
            parent = (idx // V + offsets).view(-1)
            prev = (idx % V).view(-1)
            cache = [(kk[parent], vv[parent]) for kk, vv in cache]
        return scores


MASK64 = (1 << 64) - 1


class SplitMix:
    """SplitMix64, as in bench/train_step.cpp: the same lengths and batches in both frameworks."""

    def __init__(self, seed):
        self.state = seed

    def next(self):
        self.state = (self.state + 0x9E3779B97F4A7C15) & MASK64
        z = self.state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK64
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK64
        return z ^ (z >> 31)

    def below(self, n):
        return self.next() % n


def varying_pairs(n, vocab):
    """train_step's varying_pairs: sources of 1-30 words (+ </s>), targets of that length +-2."""
    g = SplitMix(42)
    pairs = []
    for _ in range(n):
        s = 1 + g.below(30)
        t = max(1, s + g.below(5) - min(s, 2))
        src = [4 + g.below(vocab - 4) for _ in range(s)] + [EOS]
        tgt = [4 + g.below(vocab - 4) for _ in range(t)]
        pairs.append((src, tgt))
    return pairs


def plan_batches(pairs, batch, shuffle):
    """The translator's bucketing: sorted by (source, target) length, cut, batches shuffled."""
    order = sorted(range(len(pairs)), key=lambda i: (len(pairs[i][0]), len(pairs[i][1])))
    batches = [order[k:k + batch] for k in range(0, len(order), batch)]
    for i in range(len(batches), 1, -1):
        j = shuffle.below(i)
        batches[i - 1], batches[j] = batches[j], batches[i - 1]
    return batches


def make_batch(pairs, which):
    """Padded tensors: source [B, S] with </s>, decoder input <s> y, decoder target y </s>; lengths."""
    S = max(len(pairs[i][0]) for i in which)
    T = max(len(pairs[i][1]) for i in which) + 1
    src = torch.full((len(which), S), PAD, dtype=torch.long)
    dec_in = torch.full((len(which), T), PAD, dtype=torch.long)
    dec_out = torch.full((len(which), T), PAD, dtype=torch.long)
    for k, i in enumerate(which):
        s, t = pairs[i]
        src[k, :len(s)] = torch.tensor(s)
        dec_in[k, :len(t) + 1] = torch.tensor([BOS] + t)
        dec_out[k, :len(t) + 1] = torch.tensor(t + [EOS])
    return src, dec_in, dec_out, torch.tensor([len(pairs[i][0]) for i in which])


def read_tsv(path):
    """A translator TSV file as id pairs (ids 0-3 are <pad>, <unk>, <s>, </s>)."""
    src_ids, tgt_ids, pairs = {}, {}, []
    with open(path, encoding="utf-8") as f:
        for line in f:
            cols = line.rstrip("\r\n").split("\t")
            if len(cols) < 2:
                continue
            src = [src_ids.setdefault(w, 4 + len(src_ids)) for w in cols[0].split()] + [EOS]
            tgt = [tgt_ids.setdefault(w, 4 + len(tgt_ids)) for w in cols[1].split()]
            pairs.append((src, tgt))
    return pairs, 4 + max(len(src_ids), len(tgt_ids))


def train_file(a):
    """Trains on a TSV file for --seconds or --epochs, like `translator train`; prints peak memory."""
    pairs, vocab = read_tsv(a.train_file)
    torch.set_num_threads(a.threads)
    torch.manual_seed(1)
    model = RNNSearch(vocab, a.emb, a.hidden, a.attn, not a.no_attention)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    shuffle, start, steps, epoch, tokens = SplitMix(1), time.perf_counter(), 0, 0, 0
    rss_after_epoch = {}
    while epoch < a.epochs and time.perf_counter() - start < a.seconds:
        for which in plan_batches(pairs, a.batch, shuffle):
            src, dec_in, dec_out, lengths = make_batch(pairs, which)
            opt.zero_grad()
            model.loss(src, dec_in, dec_out, lengths).backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            steps += 1
            tokens += int((dec_out != PAD).sum())
            if time.perf_counter() - start >= a.seconds:
                break
        epoch += 1
        rss_after_epoch[epoch] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    seconds = time.perf_counter() - start
    print(json.dumps({
        "framework": "pytorch " + torch.__version__, "mode": "train-file", "file": a.train_file, "pairs": len(pairs),
        "emb": a.emb, "hidden": a.hidden, "attn": a.attn, "vocab": vocab, "threads": a.threads, "steps": steps,
        "seconds": round(seconds, 1), "tgt_tokens_per_s": round(tokens / seconds),
        "peak_rss_mb_after_epoch": rss_after_epoch,
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)}))


def openblas_kernel():
    """The kernels the OpenBLAS that torch loaded chose (or was pinned to), asked of the library itself."""
    with open("/proc/self/maps") as f:
        libs = sorted({line.split()[-1] for line in f if "openblas" in line and ".so" in line})
    for lib in libs:
        try:
            corename = ctypes.CDLL(lib).openblas_get_corename
        except (OSError, AttributeError):
            continue
        corename.restype = ctypes.c_char_p
        return corename().decode()
    return "unknown (torch did not load OpenBLAS)"


def current_rss_mb():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGESIZE") / (1024 * 1024)


def main():
    p = argparse.ArgumentParser()
    for name, default in (("batch", 32), ("emb", 64), ("hidden", 128), ("attn", 128), ("vocab", 40), ("src-len", 20),
                          ("tgt-len", 20), ("steps", 50), ("threads", 1), ("beam", 1), ("model-dim", 64),
                          ("ff-dim", 256), ("layers", 2), ("heads", 4)):
        p.add_argument("--" + name, type=int, default=default)
    p.add_argument("--arch", default="rnnsearch", choices=("rnnsearch", "transformer"))
    p.add_argument("--no-attention", action="store_true")
    p.add_argument("--decode", action="store_true")
    p.add_argument("--vary-lengths", action="store_true")
    p.add_argument("--train-file")
    p.add_argument("--seconds", type=float, default=1e9)
    p.add_argument("--epochs", type=int, default=1000000)
    a = p.parse_args()
    if a.train_file:
        train_file(a)
        return
    torch.set_num_threads(a.threads)
    torch.manual_seed(1)
    if a.arch == "transformer":
        model = Transformer(a.vocab, a.model_dim, a.ff_dim, a.layers, a.heads)
    else:
        model = RNNSearch(a.vocab, a.emb, a.hidden, a.attn, not a.no_attention)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    src = torch.randint(4, a.vocab, (a.batch, a.src_len))
    src[:, -1] = EOS
    tgt = torch.randint(4, a.vocab, (a.batch, a.tgt_len - 1))
    dec_in = torch.cat([torch.full((a.batch, 1), BOS), tgt], 1)
    dec_out = torch.cat([tgt, torch.full((a.batch, 1), EOS)], 1)

    varying = varying_pairs(4000, a.vocab) if a.vary_lengths else None
    plan = plan_batches(varying, a.batch, SplitMix(7)) if a.vary_lengths else None
    state = {"next": 0, "tokens": 0}

    def one_step():
        lengths, s_, di, do = None, src, dec_in, dec_out
        if a.vary_lengths:
            s_, di, do, lengths = make_batch(varying, plan[state["next"] % len(plan)])
            state["next"] += 1
        state["tokens"] += do.numel()
        if a.decode and a.beam > 1:
            model.beam(s_, do.shape[1], a.beam, lengths)
            return
        if a.decode:
            model.greedy(s_, do.shape[1], lengths)
            return
        opt.zero_grad()
        model.loss(s_, di, do, lengths).backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()

    for _ in range(5):
        one_step()
    rss_start = current_rss_mb()
    times, rss_along = [], {}
    state["tokens"] = 0
    cpu_start = resource.getrusage(resource.RUSAGE_SELF)
    run_start = time.perf_counter()
    for i in range(a.steps):
        t = time.perf_counter()
        one_step()
        times.append((time.perf_counter() - t) * 1000)
        if i + 1 in (a.steps // 8, a.steps // 4, a.steps // 2, a.steps):
            rss_along[str(i + 1)] = round(current_rss_mb(), 1)
    run_s = time.perf_counter() - run_start
    cpu_end = resource.getrusage(resource.RUSAGE_SELF)
    cpu_s = (cpu_end.ru_utime - cpu_start.ru_utime) + (cpu_end.ru_stime - cpu_start.ru_stime)
    med = statistics.median(times)
    print(json.dumps({
        "framework": "pytorch " + torch.__version__, "mode": "decode" if a.decode else "train", "arch": a.arch, "batch": a.batch,
        "emb": a.emb, "hidden": a.hidden, "attn": a.attn, "vocab": a.vocab, "src_len": a.src_len, "tgt_len": a.tgt_len,
        "threads": a.threads, "attention": not a.no_attention, "steps": a.steps,
        "median_ms": round(med, 3), "min_ms": round(min(times), 3),
        "tgt_tokens_per_s": round(state["tokens"] / run_s if a.vary_lengths else a.batch * a.tgt_len / (med / 1000)),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "allocs_per_step": None, "limit_ms": None, "median_over_limit": None,
        "rss_start_mb": round(rss_start, 1), "rss_end_mb": round(current_rss_mb(), 1),
        "vary_lengths": a.vary_lengths, "rss_mb_after_steps": rss_along, "beam": a.beam if a.decode else 0,
        "cpu_over_wall": round(cpu_s / run_s, 2), "openblas_kernel": openblas_kernel()}))


if __name__ == "__main__":
    main()
