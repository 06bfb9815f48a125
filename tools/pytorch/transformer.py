#!/usr/bin/python3
"""tapegrad's Transformer (examples/translator/transformer.cpp, `translator train --arch transformer`) as a
PyTorch nn.Module, and the bridge both ways: a checkpoint folder loads into it, and it writes a folder
tapegrad loads. The module's parameter names ARE tapegrad's (`state_dict()` keys == the checkpoint's
.npy files): attention as query/key/value/output projections (PyTorch's nn.MultiheadAttention packs the
first three into in_proj_weight), the feed-forward network as ff.linear1/linear2, norm1-3 as PyTorch's.

    from transformer import load_checkpoint, save_checkpoint
    model, src, tgt = load_checkpoint("build/real/transformer")
    ...train it with any PyTorch recipe...
    save_checkpoint(model, src, tgt, "from-torch")   # translator eval --checkpoint from-torch

Command line:  tools/pytorch/transformer.py translate CHECKPOINT < sentences    (greedy, as tapegrad's)
Subword models need python3-sentencepiece. Needs Debian's python3-torch; run with /usr/bin/python3.
"""
import math
import os
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bridge  # noqa: E402
from bridge import PAD, load_parameters, read_config, read_sides, translate_stdin  # noqa: E402


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

    def loss(self, src, lengths, dec_in, dec_out, label_smoothing=0.0):
        """Mean over non-pad target tokens of -log p(y_i), teacher forcing."""
        logits = self.decode(*self.encode(src, lengths), dec_in)
        return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), dec_out.reshape(-1), ignore_index=PAD,
                               label_smoothing=label_smoothing if self.training else 0.0)

    def forward(self, src, lengths, dec_in, dec_out):  # the training loss: what DistributedDataParallel wraps
        return self.loss(src, lengths, dec_in, dec_out)

    # decoding (bridge.greedy): the state is the words so far, and each step runs the decoder over
    # all of them again (simple, and the same numbers as tapegrad's cache)
    def start(self, src, lengths):
        return self.encode(src, lengths), torch.zeros(src.shape[0], 0, dtype=torch.long)

    def step(self, encoded, words, prev):
        words = torch.cat([words, prev[:, None]], 1)
        return self.decode(*encoded, words)[:, -1], words


def load_checkpoint(path):
    """A tapegrad Transformer checkpoint folder -> (model, src, tgt): the model and its two bridge.Sides."""
    c = read_config(path)
    if c.get("arch") != "transformer":
        raise SystemExit(f"{path}/config.txt: arch {c.get('arch')}, not a Transformer (tools/pytorch/rnnsearch.py reads RNNsearch)")
    src, tgt = read_sides(path)
    model = Transformer(len(src), len(tgt), int(c["model_dim"]), int(c["ff_dim"]), int(c["layers"]), int(c["heads"]),
                        c["pre_norm"] == "1", c["tie_embeddings"] == "1")
    load_parameters(model, path)
    return model, src, tgt


def save_checkpoint(model, src, tgt, path):
    """Writes a folder `translator eval/translate/attention --checkpoint` loads (a new or empty folder)."""
    first = model.decoder[0]
    bridge.save_checkpoint(model, src, tgt, path, (
        f"arch transformer\nsrc_vocab {len(src)}\ntgt_vocab {len(tgt)}\nmodel_dim {model.d}\n"
        f"ff_dim {first.ff.linear1.out_features}\nlayers {len(model.decoder)}\nheads {first.self_attn.heads}\n"
        f"pre_norm {int(model.pre_norm)}\ntie_embeddings {int(model.tied)}\n"))


if __name__ == "__main__":
    translate_stdin(load_checkpoint, "transformer.py")
