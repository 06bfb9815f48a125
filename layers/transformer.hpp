// The Transformer's layers (Vaswani et al. 2017, Section 3), as torch.nn.TransformerEncoderLayer and
// TransformerDecoderLayer compute them (batch_first, ReLU; dropout off they give the same numbers):
//
//   encoder layer   x = LN(x + SelfAttention(x))          post-norm, the paper's (Section 3.1)
//                   x = LN(x + FFN(x))
//   decoder layer   x = LN(x + CausalSelfAttention(x))    query i sees positions j <= i
//                   x = LN(x + CrossAttention(x, encoder output))
//                   x = LN(x + FFN(x))
//   FFN(x) = max(0, x W_1 + b_1) W_2 + b_2                Eq. 2
//
// With pre_norm (as most toolkits now do, and PyTorch's norm_first) each sublayer reads LN(x) and adds
// to x unchanged: x = x + Sublayer(LN(x)); the stack then ends in one more LayerNorm (its owner's).
// The attentions are the family's multi_head (layers/attention.hpp): h heads of scaled dot products.
// Dropout (the paper's P_drop) goes on each sublayer's output before the residual sum, and between
// the FFN's two layers, as PyTorch's; PyTorch's dropout on the attention weights is not applied.
#pragma once
#include "attention.hpp"
#include "dropout.hpp"
#include "layer_norm.hpp"
#include "linear.hpp"

namespace tg {

struct TransformerSizes {
    std::size_t model = 64;  // d_model: every sublayer's input and output
    std::size_t heads = 4;   // h: each head attends in d_model / h
    std::size_t ff = 256;    // d_ff: the feed-forward network's inner size
    bool pre_norm = false;   // LayerNorm before each sublayer (true) or after the residual sum (the paper's)
};

// The sinusoidal positions of Section 3.5: PE(pos, 2i) = sin(pos / 10000^(2i/d)), PE(pos, 2i+1) =
// cos(pos / 10000^(2i/d)), for positions first .. first + count - 1: [count, d].
Tensor sinusoidal_positions(std::size_t first, std::size_t count, std::size_t d);

// The mask of a decoder's self-attention: [B, T, T], 1 where query i may see position j (j <= i).
Tensor causal_mask(std::size_t batch, std::size_t length);

// Position-wise feed-forward network (Eq. 2), PyTorch's linear1 and linear2.
class FeedForward : public Module {
public:
    FeedForward(std::size_t model, std::size_t inner, Generator& gen);
    Var forward(const Var& x, const Dropout& dropout, Generator* dropout_stream) const;
    Linear linear1, linear2;
};

class TransformerEncoderLayer : public Module {
public:
    TransformerEncoderLayer(const TransformerSizes& sizes, Generator& gen);
    // x [B, S, D], valid [B, S] (1 at real positions) -> [B, S, D]. With `dropout_stream`, in
    // training mode, dropout.
    Var forward(const Var& x, const Var& valid, Generator* dropout_stream = nullptr) const;

    TransformerSizes sizes;
    AttentionPtr self_attn;
    FeedForward ff;
    LayerNorm norm1, norm2;
    Dropout dropout;
};

class TransformerDecoderLayer : public Module {
public:
    TransformerDecoderLayer(const TransformerSizes& sizes, Generator& gen);

    struct Output {
        Var y;              // [B, T, D]
        Var cross_weights;  // each head's weights over the source: [B, heads, T, S]
        Attention::Memory self_memory;  // the self-attention's keys and values, past positions included
    };
    // x [B, T, D]. Teacher forcing: self_mask [B, T, T] (causal_mask), past null. Decoding, one word a
    // step (T = 1): self_mask [B, 1] of ones and `past` the self-attention's memory of the earlier
    // words (the returned self_memory of the previous step; null at the first), so that each word's
    // keys and values are computed once. `memory`: the cross-attention's, precompute()d from the
    // encoder's output.
    Output forward(const Var& x, const Var& self_mask, const Attention::Memory* past, const Attention::Memory& memory,
                   Generator* dropout_stream = nullptr) const;

    TransformerSizes sizes;
    AttentionPtr self_attn, cross_attn;
    FeedForward ff;
    LayerNorm norm1, norm2, norm3;
    Dropout dropout;
};

}  // namespace tg
