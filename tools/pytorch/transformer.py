#!/usr/bin/python3
"""tapegrad's Transformer (examples/translator/transformer.cpp, `translator train --arch transformer`) as a
PyTorch nn.Module, and the bridge both ways: a checkpoint folder loads into it, and it writes a folder
tapegrad loads. The module's parameter names ARE tapegrad's (`state_dict()` keys == the checkpoint's
.npy files): attention as query/key/value/output projections (PyTorch's nn.MultiheadAttention packs the
first three into in_proj_weight), the feed-forward network as ff.linear1/linear2, norm1-3 as PyTorch's.

    from transformer import load_checkpoint, save_checkpoint
    model, src_vocab, tgt_vocab = load_checkpoint("build/family/transformer")
    ...train it with any PyTorch recipe...
    save_checkpoint(model, src_vocab, tgt_vocab, "from-torch")   # translator eval --checkpoint from-torch

Command line:  tools/pytorch/transformer.py translate CHECKPOINT < sentences    (greedy, as tapegrad's)
Word models only. Needs Debian's python3-torch; run with /usr/bin/python3.
"""
import math
import os
import sys

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import rnnsearch  # noqa: E402
from rnnsearch import BOS, EOS, PAD, read_vocab, translate, translate_stdin  # noqa: E402


class Attention(nn.Module):
    """Multi-head attention (Vaswani et al. 2017, 3.2.2), as tapegrad's multi_head."""

    def __init__(self, d, heads):
        super().__init__()
        self.heads = heads
        self.query, self.key, self.value, self.output = (nn.Linear(d, d) for _ in range(4))

    def forward(self, x, memory, mask):
        """x [B, T, d] asks memory [B, S, d]; mask broadcastable to [B, 1, T, S], True where allowed.
        Returns the output and the weights per head [B, h, T, S]."""
        B, T, d = x.shape
        split = lambda t: t.view(B, t.shape[1], self.heads, d // self.heads).transpose(1, 2)
        q, k, v = split(self.query(x)), split(self.key(memory)), split(self.value(memory))
        e = (q @ k.transpose(-1, -2)) / math.sqrt(d // self.heads)
        alpha = torch.softmax(e.masked_fill(~mask, float("-inf")), -1)
        return self.output((alpha @ v).transpose(1, 2).reshape(B, T, d)), alpha


class FeedForward(nn.Module):
    def __init__(self, d, ff):
        super().__init__()
        self.linear1, self.linear2 = nn.Linear(d, ff), nn.Linear(ff, d)

    def forward(self, x):
        return self.linear2(F.relu(self.linear1(x)))


class Layer(nn.Module):
    def __init__(self, d, heads, ff, pre_norm, cross):
        super().__init__()
        self.pre_norm, self.cross = pre_norm, cross
        self.self_attn = Attention(d, heads)
        if cross:
            self.cross_attn = Attention(d, heads)
        self.ff = FeedForward(d, ff)
        self.norm1, self.norm2 = nn.LayerNorm(d), nn.LayerNorm(d)
        if cross:
            self.norm3 = nn.LayerNorm(d)

    def forward(self, x, self_mask, memory=None, memory_mask=None):
        norms = [self.norm1] + ([self.norm2, self.norm3] if self.cross else [self.norm2])
        subs = [lambda h: self.self_attn(h, h, self_mask)[0]]
        if self.cross:
            subs.append(lambda h: self.cross_attn(h, memory, memory_mask)[0])
        subs.append(self.ff)
        for norm, sub in zip(norms, subs):
            x = x + sub(norm(x)) if self.pre_norm else norm(x + sub(x))
        return x


class Transformer(nn.Module):
    def __init__(self, src_vocab, tgt_vocab, model_dim=64, ff_dim=256, layers=2, heads=4, pre_norm=False,
                 tie_embeddings=False):
        super().__init__()
        d = model_dim
        self.d, self.tied = d, tie_embeddings
        self.src_embed = nn.Embedding(src_vocab, d, padding_idx=PAD)
        self.tgt_embed = nn.Embedding(tgt_vocab, d, padding_idx=PAD)
        self.encoder = nn.ModuleList(Layer(d, heads, ff_dim, pre_norm, False) for _ in range(layers))
        self.decoder = nn.ModuleList(Layer(d, heads, ff_dim, pre_norm, True) for _ in range(layers))
        if pre_norm:
            self.encoder_norm, self.decoder_norm = nn.LayerNorm(d), nn.LayerNorm(d)
        self.output = nn.Linear(d, tgt_vocab)
        if tie_embeddings:
            del self.output.weight  # W_o is tgt_embed.weight; output.bias stays its own
        self.pre_norm = pre_norm

    def positions(self, T):
        pos = torch.arange(T, dtype=torch.float64)[:, None]
        i = torch.arange(self.d)
        angle = pos / torch.pow(10000.0, (i - i % 2).double() / self.d)
        return torch.where(i % 2 == 0, torch.sin(angle), torch.cos(angle)).float()

    def embed(self, table, ids):
        return table(ids) * math.sqrt(self.d) + self.positions(ids.shape[1])

    def logits(self, z):
        return F.linear(z, self.tgt_embed.weight if self.tied else self.output.weight, self.output.bias)

    def encode(self, src, lengths):
        valid = (torch.arange(src.shape[1])[None, :] < lengths[:, None])[:, None, None, :]  # [B, 1, 1, S]
        h = self.embed(self.src_embed, src)
        for layer in self.encoder:
            h = layer(h, valid)
        return (self.encoder_norm(h) if self.pre_norm else h), valid

    def decode(self, memory, valid, dec_in):
        T = dec_in.shape[1]
        causal = torch.tril(torch.ones(T, T, dtype=torch.bool))[None, None]
        z = self.embed(self.tgt_embed, dec_in)
        for layer in self.decoder:
            z = layer(z, causal, memory, valid)
        return self.logits(self.decoder_norm(z) if self.pre_norm else z)

    def loss(self, src, lengths, dec_in, dec_out):
        """Mean over non-pad target tokens of -log p(y_i), teacher forcing."""
        logits = self.decode(*self.encode(src, lengths), dec_in)
        return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), dec_out.reshape(-1), ignore_index=PAD,
                               reduction="sum") / (dec_out != PAD).sum()

    @torch.no_grad()
    def greedy(self, src, lengths):
        """Greedy decoding as tapegrad's: at most 2n + 10 words (n counting </s>), stopping at </s>.
        (The whole prefix again each step: simple, and the same numbers as a cache.)"""
        memory, valid = self.encode(src, lengths)
        B = src.shape[0]
        limit = (2 * lengths + 10).tolist()
        words = torch.full((B, 1), BOS, dtype=torch.long)
        out, done = [[] for _ in range(B)], [False] * B
        for i in range(max(limit)):
            best = self.decode(memory, valid, words)[:, -1].argmax(1)
            for b in range(B):
                if done[b] or i >= limit[b]:
                    continue
                if best[b].item() == EOS:
                    done[b] = True
                else:
                    out[b].append(best[b].item())
            if all(done[b] or i + 1 >= limit[b] for b in range(B)):
                break
            words = torch.cat([words, best[:, None]], 1)
        return out


def read_config(path):
    config = {}
    with open(os.path.join(path, "config.txt"), encoding="utf-8") as f:
        for line in f:
            if line.strip():
                key, value = line.split()
                config[key] = value
    if config.get("arch") != "transformer":
        raise SystemExit(f"{path}/config.txt: arch {config.get('arch')}, not a Transformer (tools/pytorch/rnnsearch.py reads RNNsearch)")
    return config


def load_checkpoint(path):
    """A tapegrad Transformer checkpoint folder -> (model, src_vocab, tgt_vocab)."""
    if os.path.exists(os.path.join(path, "src.spm")):
        raise SystemExit(f"{path}: a subword model (src.spm); this bridge reads word models")
    c = read_config(path)
    src_vocab = read_vocab(os.path.join(path, "src.vocab"))
    tgt_vocab = read_vocab(os.path.join(path, "tgt.vocab"))
    model = Transformer(len(src_vocab), len(tgt_vocab), int(c["model_dim"]), int(c["ff_dim"]), int(c["layers"]),
                        int(c["heads"]), c["pre_norm"] == "1", c["tie_embeddings"] == "1")
    state = {name: torch.from_numpy(np.load(os.path.join(path, name + ".npy"))) for name in model.state_dict()}
    model.load_state_dict(state, strict=True)
    return model, src_vocab, tgt_vocab


def save_checkpoint(model, src_vocab, tgt_vocab, path):
    """Writes a folder `translator eval/translate/attention --checkpoint` loads (a new or empty folder)."""
    first = model.decoder[0]
    rnnsearch.save_checkpoint(model, src_vocab, tgt_vocab, path, config=(
        f"arch transformer\nsrc_vocab {len(src_vocab)}\ntgt_vocab {len(tgt_vocab)}\nmodel_dim {model.d}\n"
        f"ff_dim {first.ff.linear1.out_features}\nlayers {len(model.decoder)}\nheads {first.self_attn.heads}\n"
        f"pre_norm {int(model.pre_norm)}\ntie_embeddings {int(model.tied)}\n"))


if __name__ == "__main__":
    translate_stdin(load_checkpoint, "transformer.py")
