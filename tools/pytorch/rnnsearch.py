#!/usr/bin/python3
"""The translator's model (docs/spec/model.md) as a PyTorch nn.Module, and the bridge between the two
frameworks: a tapegrad checkpoint folder loads into it, and it writes a folder tapegrad loads.

Why: tapegrad runs on one CPU. To train far larger, on GPUs or many machines (torch.distributed,
DistributedDataParallel), move the model to PyTorch; to study what it learned with tapegrad's tools
(attention heatmaps, AER, the paper's figures), move it back. The parameter names of this module ARE
the spec's names (`model.state_dict()` keys == the checkpoint's .npy files), so nothing is renamed.

    from rnnsearch import load_checkpoint, save_checkpoint
    model, src_vocab, tgt_vocab = load_checkpoint("build/demo/model")
    print(translate(model, src_vocab, tgt_vocab, ["the dog sees a cat"]))
    ...train it with any PyTorch recipe...
    save_checkpoint(model, src_vocab, tgt_vocab, "from-torch")   # translator eval --checkpoint from-torch

Command line:  tools/pytorch/rnnsearch.py translate CHECKPOINT < sentences    (greedy, as tapegrad's)
Word models only: a subword checkpoint (src.spm) needs SentencePiece's Python module to cut its input.
Needs Debian's python3-torch (make interop installs it); run with /usr/bin/python3.
"""
import os
import sys

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

PAD, UNK, BOS, EOS = 0, 1, 2, 3


class RNNSearch(nn.Module):
    """Bahdanau et al. 2015 at toy size, exactly as docs/spec/model.md (and examples/translator/model.cpp)."""

    def __init__(self, src_vocab, tgt_vocab, emb=64, hidden=128, attn=128, attention=True, deep_output=0):
        super().__init__()
        E, H, A = emb, hidden, attn
        self.attention_on, self.H = attention, H
        self.src_embed = nn.Embedding(src_vocab, E, padding_idx=PAD)
        self.tgt_embed = nn.Embedding(tgt_vocab, E, padding_idx=PAD)
        self.encoder = nn.ModuleDict({"fwd": nn.GRUCell(E, H), "bwd": nn.GRUCell(E, H)})  # PyTorch's GRU: "reset after"
        self.bridge = nn.Linear(H, H)  # s_0 = tanh(W_init b_1 + b_init)
        if attention:
            self.attention = nn.Module()
            self.attention.query = nn.Linear(H, A, bias=False)  # W_a
            self.attention.key = nn.Linear(2 * H, A)  # U_a, b_a
            self.attention.v = nn.Parameter(torch.empty(A).uniform_(-A ** -0.5, A ** -0.5))
        self.decoder = nn.GRUCell(E + 2 * H, H)
        features = 3 * H + E
        if deep_output:  # maxout of two pieces (Appendix A.2.2)
            self.deep_output = nn.Linear(features, 2 * deep_output)
            features = deep_output
        self.deep_output_units = deep_output
        self.output = nn.Linear(features, tgt_vocab)

    def encode(self, src, lengths):
        """src [B, S] ids ending in </s>, padded; lengths [B]. Each direction runs over the true length only."""
        B, S = src.shape
        x = self.src_embed(src)
        mask = (torch.arange(S)[None, :] < lengths[:, None]).float()  # [B, S]
        h = x.new_zeros(B, self.H)
        fwd = []
        for j in range(S):  # a padded position keeps the state: padding never enters the recurrence
            m = mask[:, j:j + 1]
            h = m * self.encoder["fwd"](x[:, j], h) + (1 - m) * h
            fwd.append(h)
        f_last = h
        h = x.new_zeros(B, self.H)
        bwd = [None] * S
        for j in reversed(range(S)):
            m = mask[:, j:j + 1]
            h = m * self.encoder["bwd"](x[:, j], h) + (1 - m) * h
            bwd[j] = h
        b_first = h
        annotations = torch.cat([torch.stack(fwd, 1), torch.stack(bwd, 1)], 2) * mask[:, :, None]  # h_j [B, S, 2H]
        s0 = torch.tanh(self.bridge(b_first))
        keys = self.attention.key(annotations) if self.attention_on else None  # K_j, once per sentence
        fixed = torch.cat([f_last, b_first], 1)  # the context of the model without attention
        return annotations, keys, mask, s0, fixed

    def step(self, enc, s, y_prev_ids):
        """One decoder step: returns (logits, s_i, alpha_i)."""
        annotations, keys, mask, _, fixed = enc
        y_prev = self.tgt_embed(y_prev_ids)
        alpha = None
        if self.attention_on:
            e = torch.tanh(self.attention.query(s)[:, None, :] + keys) @ self.attention.v  # e_ij [B, S]
            e = e.masked_fill(mask == 0, float("-inf"))
            alpha = torch.softmax(e, 1)
            c = (alpha[:, :, None] * annotations).sum(1)  # c_i
        else:
            c = fixed
        s = self.decoder(torch.cat([y_prev, c], 1), s)
        t = torch.cat([s, c, y_prev], 1)
        if self.deep_output_units:
            t = self.deep_output(t).view(t.shape[0], self.deep_output_units, 2).max(2).values
        return self.output(t), s, alpha

    def loss(self, src, lengths, dec_in, dec_out):
        """Mean over non-pad target tokens of -log p(y_i), teacher forcing."""
        enc = self.encode(src, lengths)
        s, logits = enc[3], []
        for i in range(dec_in.shape[1]):
            l, s, _ = self.step(enc, s, dec_in[:, i])
            logits.append(l)
        logits = torch.stack(logits, 1)
        return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), dec_out.reshape(-1), ignore_index=PAD,
                               reduction="sum") / (dec_out != PAD).sum()

    @torch.no_grad()
    def greedy(self, src, lengths):
        """Greedy decoding as tapegrad's: at most 2n + 10 words (n counting </s>), stopping at </s>."""
        enc = self.encode(src, lengths)
        s, B = enc[3], src.shape[0]
        limit = (2 * lengths + 10).tolist()
        prev = torch.full((B,), BOS, dtype=torch.long)
        out, done = [[] for _ in range(B)], [False] * B
        for i in range(max(limit)):
            logits, s, _ = self.step(enc, s, prev)
            best = logits.argmax(1)
            for b in range(B):
                if done[b] or i >= limit[b]:
                    continue
                if best[b].item() == EOS:
                    done[b] = True
                else:
                    out[b].append(best[b].item())
            if all(done[b] or i + 1 >= limit[b] for b in range(B)):
                break
            prev = best
        return out


# --- vocabularies and batches ---

def read_vocab(path):
    with open(path, encoding="utf-8") as f:
        words = f.read().split("\n")
    if words and words[-1] == "":
        words.pop()
    return words


def encode_sources(sentences, vocab):
    index = {w: i for i, w in enumerate(vocab)}
    ids = [[index.get(w, UNK) for w in s.split()] + [EOS] for s in sentences]
    S = max(map(len, ids))
    return torch.tensor([x + [PAD] * (S - len(x)) for x in ids]), torch.tensor([len(x) for x in ids])


def encode_pairs(pairs, src_vocab, tgt_vocab):
    """(source, target) strings -> src, lengths, decoder input <s> y, decoder target y </s>."""
    src, lengths = encode_sources([s for s, _ in pairs], src_vocab)
    index = {w: i for i, w in enumerate(tgt_vocab)}
    tgt = [[index.get(w, UNK) for w in t.split()] for _, t in pairs]
    T = max(map(len, tgt)) + 1
    dec_in = torch.tensor([[BOS] + t + [PAD] * (T - 1 - len(t)) for t in tgt])
    dec_out = torch.tensor([t + [EOS] + [PAD] * (T - 1 - len(t)) for t in tgt])
    return src, lengths, dec_in, dec_out


def read_pairs(path):
    pairs = []
    with open(path, encoding="utf-8-sig") as f:
        for line in f:
            cols = line.rstrip("\r\n").split("\t")
            pairs.append((" ".join(cols[0].split()), " ".join(cols[1].split())))
    return pairs


def translate(model, src_vocab, tgt_vocab, sentences):
    src, lengths = encode_sources(sentences, src_vocab)
    return [" ".join(tgt_vocab[i] for i in ids) for ids in model.greedy(src, lengths)]


# --- checkpoint folders: one <parameter name>.npy per parameter, src.vocab, tgt.vocab ---

def load_checkpoint(path):
    """A tapegrad checkpoint folder (or weights exported under the spec's names) -> (model, src_vocab, tgt_vocab)."""
    if os.path.exists(os.path.join(path, "src.spm")):
        raise SystemExit(f"{path}: a subword model (src.spm); this bridge reads word models")
    src_vocab = read_vocab(os.path.join(path, "src.vocab"))
    tgt_vocab = read_vocab(os.path.join(path, "tgt.vocab"))

    def shape(name):
        return np.load(os.path.join(path, name + ".npy"), mmap_mode="r").shape

    E = shape("src_embed.weight")[1]
    H = shape("bridge.weight")[0]
    attention = os.path.exists(os.path.join(path, "attention.key.weight.npy"))
    A = shape("attention.key.weight")[0] if attention else 1
    deep = shape("deep_output.weight")[0] // 2 if os.path.exists(os.path.join(path, "deep_output.weight.npy")) else 0
    model = RNNSearch(len(src_vocab), len(tgt_vocab), E, H, A, attention, deep)
    state = {name: torch.from_numpy(np.load(os.path.join(path, name + ".npy"))) for name in model.state_dict()}
    model.load_state_dict(state, strict=True)
    return model, src_vocab, tgt_vocab


def save_checkpoint(model, src_vocab, tgt_vocab, path, config=None):
    """Writes a folder `translator eval/translate/attention --checkpoint` loads (a new or empty folder);
    `config`, the text of its config.txt (the Transformer's bridge gives one)."""
    if os.path.exists(path) and os.listdir(path):
        raise SystemExit(f"{path}: not empty; choose a new folder")
    os.makedirs(path, exist_ok=True)
    for name, p in model.state_dict().items():
        np.save(os.path.join(path, name + ".npy"), p.detach().cpu().numpy().astype(np.float32))
    for name, vocab in (("src.vocab", src_vocab), ("tgt.vocab", tgt_vocab)):
        with open(os.path.join(path, name), "w", encoding="utf-8") as f:
            f.write("".join(w + "\n" for w in vocab))
    if config is not None:
        with open(os.path.join(path, "config.txt"), "w", encoding="utf-8") as f:
            f.write(config)


def translate_stdin(load, program):
    """The command line of both bridges: `PROGRAM translate CHECKPOINT < sentences`, greedy, as tapegrad's."""
    if len(sys.argv) != 3 or sys.argv[1] != "translate":
        sys.exit(f"usage: tools/pytorch/{program} translate CHECKPOINT < sentences")
    model, sv, tv = load(sys.argv[2])
    model.eval()
    lines = [line.rstrip("\r\n") for line in sys.stdin]
    for k in range(0, len(lines), 64):
        for t in translate(model, sv, tv, lines[k:k + 64]):
            print(t)


if __name__ == "__main__":
    translate_stdin(load_checkpoint, "rnnsearch.py")
