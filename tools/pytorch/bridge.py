"""What both PyTorch bridges share (tools/pytorch/rnnsearch.py, tools/pytorch/transformer.py): a
tapegrad checkpoint folder's configuration, vocabularies and subword models read, a model's
parameters loaded from and saved to its .npy files, sentence pairs turned into batches as tapegrad
batches them, greedy decoding, and the `translate` command line.

A checkpoint folder holds one <parameter name>.npy per parameter, config.txt ("key value" lines:
examples/translator/model.hpp's ModelConfig), src.vocab and tgt.vocab (one unit a line, the id is the
line number), and for a subword model src.spm and tgt.spm (SentencePiece models, read with
python3-sentencepiece).
"""
import os
import sys

import numpy as np
import torch

PAD, UNK, BOS, EOS = 0, 1, 2, 3


class Side(list):
    """One language's units: the vocabulary (this list: id -> unit) and, for a subword model, its
    SentencePiece model, which cuts text into pieces and joins pieces back into text as tapegrad does."""

    def __init__(self, units, spm_bytes=None):
        super().__init__(units)
        self.spm_bytes = spm_bytes
        self.spm = None
        if spm_bytes is not None:
            try:
                import sentencepiece
            except ImportError:
                raise SystemExit("a subword model needs SentencePiece's Python module: apt-get install python3-sentencepiece")
            self.spm = sentencepiece.SentencePieceProcessor(model_proto=spm_bytes)
        self.index = {u: i for i, u in enumerate(self)}

    def cut(self, text):
        """Text -> units: its words, or a subword model's pieces of them."""
        words = text.split()
        return self.spm.encode(" ".join(words), out_type=str) if self.spm else words

    def join(self, units):
        return self.spm.decode(units) if self.spm else " ".join(units)

    def ids(self, text):
        return [self.index.get(u, UNK) for u in self.cut(text)]


def read_sides(path):
    """A checkpoint's source and target Sides."""
    def side(name):
        with open(os.path.join(path, f"{name}.vocab"), encoding="utf-8") as f:
            units = f.read().split("\n")
        if units and units[-1] == "":
            units.pop()
        spm = os.path.join(path, f"{name}.spm")
        if os.path.exists(spm):
            with open(spm, "rb") as f:
                return Side(units, f.read())
        return Side(units)
    return side("src"), side("tgt")


def read_config(path):
    """config.txt as a dict of strings (empty when the folder has none: exported weights)."""
    config = {}
    file = os.path.join(path, "config.txt")
    if os.path.exists(file):
        with open(file, encoding="utf-8") as f:
            for number, line in enumerate(f, 1):
                if line.strip():
                    fields = line.split()
                    if len(fields) != 2:
                        raise SystemExit(f"{file}:{number}: '{line.strip()}' is not one key and one value")
                    config[fields[0]] = fields[1]
    return config


def load_parameters(model, path):
    """Every parameter of `model` from the folder's .npy file of its name (all of them, and no other)."""
    state = {name: torch.from_numpy(np.load(os.path.join(path, name + ".npy"))) for name in model.state_dict()}
    model.load_state_dict(state, strict=True)


def save_checkpoint(model, src, tgt, path, config):
    """Writes a folder `translator eval/translate/attention --checkpoint` loads (a new or empty folder):
    the parameters, config.txt (`config`, its text), the vocabularies and subword models."""
    if os.path.exists(path) and os.listdir(path):
        raise SystemExit(f"{path}: not empty; choose a new folder")
    os.makedirs(path, exist_ok=True)
    for name, p in model.state_dict().items():
        np.save(os.path.join(path, name + ".npy"), p.detach().cpu().numpy().astype(np.float32))
    for name, side in (("src", src), ("tgt", tgt)):
        with open(os.path.join(path, f"{name}.vocab"), "w", encoding="utf-8") as f:
            f.write("".join(u + "\n" for u in side))
        if side.spm_bytes is not None:
            with open(os.path.join(path, f"{name}.spm"), "wb") as f:
                f.write(side.spm_bytes)
    with open(os.path.join(path, "config.txt"), "w", encoding="utf-8") as f:
        f.write(config)


# --- sentence pairs and batches, as tapegrad makes them ---

def read_pairs(path):
    """A TSV file's (source, target) pairs, whitespace normalised."""
    pairs = []
    with open(path, encoding="utf-8-sig") as f:
        for line in f:
            cols = line.rstrip("\r\n").split("\t")
            if len(cols) >= 2:
                pairs.append((" ".join(cols[0].split()), " ".join(cols[1].split())))
    return pairs


def encode_sources(sentences, src):
    """Source ids [B, S] (each sentence's units, then </s>, padded) and their lengths [B]."""
    ids = [src.ids(s) + [EOS] for s in sentences]
    S = max(map(len, ids))
    return torch.tensor([x + [PAD] * (S - len(x)) for x in ids]), torch.tensor([len(x) for x in ids])


def encode_pairs(pairs, src, tgt):
    """(source, target) strings -> source ids, lengths, decoder input <s> y, decoder target y </s>."""
    source, lengths = encode_sources([s for s, _ in pairs], src)
    ys = [tgt.ids(t) for _, t in pairs]
    T = max(map(len, ys)) + 1
    dec_in = torch.tensor([[BOS] + y + [PAD] * (T - 1 - len(y)) for y in ys])
    dec_out = torch.tensor([y + [EOS] + [PAD] * (T - 1 - len(y)) for y in ys])
    return source, lengths, dec_in, dec_out


# --- decoding ---

@torch.no_grad()
def greedy(model, source, lengths):
    """Greedy decoding as tapegrad's: at most 2n + 10 units (n counting </s>), stopping at </s>. The
    model gives `start(source, lengths) -> (encoded, state)` and `step(encoded, state, previous ids) ->
    (logits, state)`."""
    encoded, state = model.start(source, lengths)
    B = source.shape[0]
    limit = (2 * lengths + 10).tolist()
    prev = torch.full((B,), BOS, dtype=torch.long)
    out, done = [[] for _ in range(B)], [False] * B
    for i in range(max(limit)):
        logits, state = model.step(encoded, state, prev)
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


def translate(model, src, tgt, sentences):
    source, lengths = encode_sources(sentences, src)
    return [tgt.join([tgt[i] for i in ids]) for ids in greedy(model, source, lengths)]


def translate_stdin(load, program):
    """The command line of both bridges: `PROGRAM translate CHECKPOINT < sentences`, greedy, as tapegrad's."""
    if len(sys.argv) != 3 or sys.argv[1] != "translate":
        sys.exit(f"usage: tools/pytorch/{program} translate CHECKPOINT < sentences")
    model, src, tgt = load(sys.argv[2])
    model.eval()
    lines = [line.rstrip("\r\n") for line in sys.stdin]
    for k in range(0, len(lines), 64):
        for t in translate(model, src, tgt, lines[k:k + 64]):
            print(t)
