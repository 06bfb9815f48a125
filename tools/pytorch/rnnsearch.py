#!/usr/bin/python3
"""The translator's RNNsearch (examples/translator/model.cpp, docs/spec/model.md) as a PyTorch
nn.Module, with every score function and cell `translator train` offers, and the bridge between the two
frameworks: a tapegrad checkpoint folder loads into it, and it writes a folder tapegrad loads.

Why: tapegrad runs on one CPU. To train far larger, on GPUs or many machines (torch.distributed,
DistributedDataParallel: tools/pytorch/train_ddp.py), move the model to PyTorch; to study what it
learned with tapegrad's tools (attention heatmaps, AER, the paper's figures), move it back. The
parameter names of this module ARE tapegrad's (`model.state_dict()` keys == the checkpoint's .npy
files), so nothing is renamed; the configuration is the checkpoint's config.txt.

    from rnnsearch import load_checkpoint, save_checkpoint
    from bridge import translate
    model, src, tgt = load_checkpoint("build/demo/model")
    print(translate(model, src, tgt, ["the dog sees a cat"]))
    ...train it with any PyTorch recipe...
    save_checkpoint(model, src, tgt, "from-torch")   # translator eval --checkpoint from-torch

Command line:  tools/pytorch/rnnsearch.py translate CHECKPOINT < sentences    (greedy, as tapegrad's)
Subword models need python3-sentencepiece. Needs Debian's python3-torch; run with /usr/bin/python3.
"""
import math
import os
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bridge import PAD, load_parameters, read_config, read_sides, translate_stdin  # noqa: E402
import bridge  # noqa: E402


# --- the attention family (layers/attention/*.cpp): each `project(values)` once per batch, then
# `forward(memory, mask, query) -> (context, weights)` once per decoder step ---

class Scored(nn.Module):
    """What the score functions share: a masked softmax of their scores e_ij over the source, and the
    weighted sum of the annotations (Eq. 5-6). `project` gives (values, keys)."""

    def forward(self, memory, mask, q):
        values, keys = memory
        alpha = torch.softmax(self.scores(keys, q).masked_fill(mask == 0, float("-inf")), 1)
        return (alpha[:, :, None] * values).sum(1), alpha


class Additive(Scored):
    """e_ij = v . tanh(W_a s + U_a h_j + b_a): Bahdanau et al. 2015, the paper's."""

    def __init__(self, Q, K, A, heads):
        super().__init__()
        self.query = nn.Linear(Q, A, bias=False)
        self.key = nn.Linear(K, A)
        self.v = nn.Parameter(torch.empty(A).uniform_(-A ** -0.5, A ** -0.5))

    def project(self, values):
        return values, self.key(values)

    def scores(self, keys, q):
        return torch.tanh(self.query(q)[:, None, :] + keys) @ self.v


class Dot(Scored):
    """e_ij = s . h_j (Luong et al. 2015), or / sqrt(K) (scaled_dot, Vaswani et al. 2017)."""

    def __init__(self, Q, K, A, heads, scaled=False):
        super().__init__()
        self.scale = 1 / math.sqrt(K) if scaled else 1.0

    def project(self, values):
        return values, values

    def scores(self, keys, q):
        return (keys @ (q * self.scale)[:, :, None])[:, :, 0]


class General(Scored):
    """e_ij = s^T W_a h_j (Luong et al. 2015, Eq. 8): the keys are W_a h_j."""

    def __init__(self, Q, K, A, heads):
        super().__init__()
        self.key = nn.Linear(K, Q, bias=False)

    def project(self, values):
        return values, self.key(values)

    def scores(self, keys, q):
        return (keys @ q[:, :, None])[:, :, 0]


class MultiHead(nn.Module):
    """h heads of scaled dot products of projections, concatenated and projected (Vaswani et al. 2017);
    the weights reported are the heads' mean, as torch.nn.MultiheadAttention's."""

    def __init__(self, Q, K, A, heads):
        super().__init__()
        self.heads = heads
        self.query, self.key, self.value, self.output = nn.Linear(Q, Q), nn.Linear(K, Q), nn.Linear(K, Q), nn.Linear(Q, Q)

    def project(self, values):
        B, S, _ = values.shape
        split = lambda t: t.view(B, S, self.heads, -1).transpose(1, 2)  # [B, h, S, d]
        return split(self.value(values)), split(self.key(values))

    def forward(self, memory, mask, q):
        values, keys = memory
        B, h, S, d = keys.shape
        e = (keys @ self.query(q).view(B, h, d, 1))[..., 0] / math.sqrt(d)  # [B, h, S]
        alpha = torch.softmax(e.masked_fill(mask[:, None, :] == 0, float("-inf")), 2)
        heads = (alpha[..., None] * values).sum(2)  # [B, h, d]
        return self.output(heads.reshape(B, h * d)), alpha.mean(1)


ATTENTIONS = {"additive": Additive, "dot": Dot, "general": General, "multi_head": MultiHead,
              "scaled_dot": lambda *sizes: Dot(*sizes, scaled=True)}


# --- the cells, their state one tensor as tapegrad's RecurrentCell: a GRU's h, an LSTM's [h ; c] ---

class GRU(nn.GRUCell):
    def output(self, state):
        return state

    def initial(self, h):
        return h

    def zeros(self, B):
        return torch.zeros(B, self.hidden_size)


class LSTM(nn.LSTMCell):
    def forward(self, x, state):
        H = self.hidden_size
        return torch.cat(super().forward(x, (state[:, :H], state[:, H:])), 1)

    def output(self, state):
        return state[:, :self.hidden_size]

    def initial(self, h):  # s_0 as h, the memory 0
        return torch.cat([h, torch.zeros_like(h)], 1)

    def zeros(self, B):
        return torch.zeros(B, 2 * self.hidden_size)


class MGU(nn.Module):
    """The minimal gated unit (Zhou et al. 2016), as layers/mgu_cell.hpp: rows [f; n] of PyTorch's names."""

    def __init__(self, input_size, hidden_size):
        super().__init__()
        H, bound = hidden_size, hidden_size ** -0.5
        self.hidden_size = H
        self.weight_ih = nn.Parameter(torch.empty(2 * H, input_size).uniform_(-bound, bound))
        self.weight_hh = nn.Parameter(torch.empty(2 * H, H).uniform_(-bound, bound))
        self.bias_ih = nn.Parameter(torch.empty(2 * H).uniform_(-bound, bound))
        self.bias_hh = nn.Parameter(torch.empty(2 * H).uniform_(-bound, bound))

    def forward(self, x, h):
        i_f, i_n = (x @ self.weight_ih.T + self.bias_ih).chunk(2, 1)
        h_f, h_n = (h @ self.weight_hh.T + self.bias_hh).chunk(2, 1)
        f = torch.sigmoid(i_f + h_f)
        return (1 - f) * h + f * torch.tanh(i_n + f * h_n)

    output, initial, zeros = GRU.output, GRU.initial, GRU.zeros


CELLS = {"gru": GRU, "lstm": LSTM, "mgu": MGU}


class RNNSearch(nn.Module):
    """Bahdanau et al. 2015 at toy size, as examples/translator/model.cpp builds it from a ModelConfig."""

    def __init__(self, c):
        super().__init__()
        for part, table in (("cell", CELLS), ("attention", {**ATTENTIONS, "none": None})):
            if c[part] not in table:  # a part registered in tapegrad (layers/*_kinds) and not written here yet
                raise SystemExit(f"the bridge has no {part} {c[part]} (it has {', '.join(table)}): "
                                 f"add it to tools/pytorch/rnnsearch.py's {'CELLS' if part == 'cell' else 'ATTENTIONS'}")
        E, H, He, A = c["emb"], c["hidden"], c["encoder_hidden"], c["attn"]
        self.H, self.He, self.dropout_p, self.tied = H, He, 0.0, c["tie_embeddings"]
        self.src_embed = nn.Embedding(c["src_vocab"], E, padding_idx=PAD)
        self.tgt_embed = nn.Embedding(c["tgt_vocab"], E, padding_idx=PAD)
        self.encoder = nn.ModuleDict({"fwd": CELLS[c["cell"]](E, He), "bwd": CELLS[c["cell"]](E, He)})
        self.bridge = nn.Linear(He, H)  # s_0 = tanh(W_init b_1 + b_init)
        self.attention = ATTENTIONS[c["attention"]](H, 2 * He, A, c["heads"]) if c["attention"] != "none" else None
        C = H if c["attention"] == "multi_head" else 2 * He  # the context's size
        self.decoder = CELLS[c["cell"]](E + C, H)
        features = H + C + E
        self.deep_output_units = c["deep_output"]
        if self.deep_output_units:  # maxout of two pieces (Appendix A.2.2)
            self.deep_output = nn.Linear(features, 2 * self.deep_output_units)
            features = self.deep_output_units
        self.output = nn.Linear(features, c["tgt_vocab"])
        if self.tied:
            del self.output.weight  # W_o is tgt_embed.weight; output.bias stays its own
        self.config = c

    def dropped(self, x):
        return F.dropout(x, self.dropout_p, self.training)

    def encode(self, src, lengths):
        """src [B, S] ids ending in </s>, padded; lengths [B]. Each direction runs over the true length only."""
        B, S = src.shape
        x = self.dropped(self.src_embed(src))
        mask = (torch.arange(S)[None, :] < lengths[:, None]).float()  # [B, S]
        outputs = {}
        for name, order in (("fwd", range(S)), ("bwd", reversed(range(S)))):
            cell, h = self.encoder[name], self.encoder[name].zeros(B)
            out = [None] * S
            for j in order:  # a padded position keeps the state: padding never enters the recurrence
                m = mask[:, j:j + 1]
                h = m * cell(x[:, j], h) + (1 - m) * h
                out[j] = cell.output(h)
            outputs[name] = (out, cell.output(h))
        annotations = torch.cat([torch.stack(outputs["fwd"][0], 1), torch.stack(outputs["bwd"][0], 1)], 2) * mask[:, :, None]
        f_last, b_first = outputs["fwd"][1], outputs["bwd"][1]
        s0 = self.decoder.initial(torch.tanh(self.bridge(b_first)))
        memory = self.attention.project(annotations) if self.attention else None  # the keys, once per batch
        fixed = torch.cat([f_last, b_first], 1)  # the context of the model without attention
        return (memory, mask, fixed), s0

    def recur(self, enc, s, y_prev):
        """The decoder's recurrence: (s_i, c_i, alpha_i) from s_{i-1} and Et[y_{i-1}]."""
        memory, mask, fixed = enc
        if self.attention:
            c, alpha = self.attention(memory, mask, self.decoder.output(s))
        else:
            c, alpha = fixed, None
        return self.decoder(torch.cat([y_prev, c], 1), s), c, alpha

    def logits(self, h, c, y_prev):
        t = self.dropped(torch.cat([h, c, y_prev], -1))
        if self.deep_output_units:
            t = self.deep_output(t).view(*t.shape[:-1], self.deep_output_units, 2).max(-1).values
        return F.linear(t, self.tgt_embed.weight if self.tied else self.output.weight, self.output.bias)

    def loss(self, src, lengths, dec_in, dec_out, label_smoothing=0.0):
        """Mean over non-pad target tokens of -log p(y_i), teacher forcing."""
        enc, s = self.encode(src, lengths)
        y = self.dropped(self.tgt_embed(dec_in))
        hs, cs = [], []
        for i in range(dec_in.shape[1]):
            s, c, _ = self.recur(enc, s, y[:, i])
            hs.append(self.decoder.output(s))
            cs.append(c)
        logits = self.logits(torch.stack(hs, 1), torch.stack(cs, 1), y)
        return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), dec_out.reshape(-1), ignore_index=PAD,
                               label_smoothing=label_smoothing if self.training else 0.0)

    def forward(self, src, lengths, dec_in, dec_out):  # the training loss: what DistributedDataParallel wraps
        return self.loss(src, lengths, dec_in, dec_out)

    # decoding (bridge.greedy)
    def start(self, src, lengths):
        return self.encode(src, lengths)

    def step(self, enc, s, prev):
        y = self.tgt_embed(prev)
        s, c, _ = self.recur(enc, s, y)
        return self.logits(self.decoder.output(s), c, y), s


def config_of(path, src, tgt):
    """The checkpoint's config.txt, with ModelConfig's defaults for what an older one does not say."""
    text = read_config(path)
    if text.get("arch", "rnnsearch") != "rnnsearch":
        raise SystemExit(f"{path}/config.txt: arch {text['arch']}, not RNNsearch (tools/pytorch/transformer.py reads it)")
    c = {"src_vocab": len(src), "tgt_vocab": len(tgt), "emb": 64, "hidden": 128, "attn": 128, "encoder_hidden": 0,
         "cell": "gru", "attention": "additive", "heads": 4, "deep_output": 0, "tie_embeddings": 0}
    for key, value in text.items():
        c[key] = value if key in ("cell", "attention", "arch") else int(value)
    c["attention"] = {"1": "additive", "0": "none"}.get(c["attention"], c["attention"])  # rounds 1 and 2 wrote 1 or 0
    c["encoder_hidden"] = c["encoder_hidden"] or c["hidden"]
    return c


def config_text(c):
    """config.txt as examples/translator/model.cpp's ModelConfig::str writes it."""
    keys = ("src_vocab", "tgt_vocab", "emb", "cell", "hidden", "encoder_hidden", "attention", "attn", "heads",
            "deep_output", "tie_embeddings")
    return "arch rnnsearch\n" + "".join(f"{k} {int(c[k]) if k == 'tie_embeddings' else c[k]}\n" for k in keys)


def load_checkpoint(path):
    """A tapegrad RNNsearch checkpoint folder -> (model, src, tgt): the model and its two bridge.Sides."""
    src, tgt = read_sides(path)
    model = RNNSearch(config_of(path, src, tgt))
    load_parameters(model, path)
    return model, src, tgt


def save_checkpoint(model, src, tgt, path):
    """Writes a folder `translator eval/translate/attention --checkpoint` loads (a new or empty folder)."""
    bridge.save_checkpoint(model, src, tgt, path, config_text(model.config))


if __name__ == "__main__":
    translate_stdin(load_checkpoint, "rnnsearch.py")
