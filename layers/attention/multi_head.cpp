// Multi-head attention: Vaswani et al. 2017, Section 3.2.2, as torch.nn.MultiheadAttention computes it
// (embed_dim = Q, kdim = vdim = K): the query, the keys and the values are projected to Q floats, cut
// into h heads of d = Q / h, each head attends on its own (scaled dot products, Eq. 1), and the heads'
// contexts, concatenated, are projected once more:
//
//     head_n  = softmax(q W_q^n . (h_j W_k^n) / sqrt(d)) (h_j W_v^n)      n = 1 .. h
//     context = [head_1 ; ... ; head_h] W_o + b_o                          [Q]
//
// Each head may look at other words; the weights reported are the heads' mean (what PyTorch returns by
// default), and each head's are in Result::head_weights, as the softmax left them: [B, h, G, S].
//
// Parameter names: query, key, value, output (.weight and .bias each): PyTorch's q_proj_weight,
// k_proj_weight, v_proj_weight, in_proj_bias cut in three, out_proj.weight and out_proj.bias.
#include <fmt/format.h>

#include <cmath>

#include "autograd/ops.hpp"
#include "layers/attention.hpp"
#include "layers/linear.hpp"

namespace tg {

namespace {

class MultiHeadAttention : public Attention {
public:
    MultiHeadAttention(const AttentionSizes& s, Generator& gen)
        : Attention(s), query(s.query, s.query, gen), key(s.key, s.query, gen), value(s.key, s.query, gen),
          output(s.query, s.query, gen) {
        register_module("query", query);
        register_module("key", key);
        register_module("value", value);
        register_module("output", output);
    }
    const char* kind() const override { return "multi_head"; }
    std::size_t context_size() const override { return sizes_.query; }

    Linear query, key, value, output;

    // <doc:multi-head-forward>
    Result forward(const Memory& memory, const Var& query_state) const override {
        const std::size_t G = queries_per_sentence(memory, query_state);
        const std::size_t B = memory.keys.shape()[0], h = sizes_.heads, d = sizes_.query / h, S = memory.keys.shape()[3];
        // the queries, per head: [B*G, Q] -> [B, h, G, d]
        const Var q = permute(reshape(query.forward(query_state), {B, G, h, d}), {0, 2, 1, 3});
        const float scale = 1.0f / std::sqrt(static_cast<float>(d));
        Var e = (matmul(q, memory.keys) * scale).label("e");  // Eq. 1: [B, h, G, d] @ [B, h, d, S]
        const Shape mask = memory.valid.shape().rank() == 3 ? Shape{B, 1, G, S} : Shape{B, 1, 1, S};
        Var alpha = softmax(e, 3, reshape(memory.valid, mask)).label("alpha");  // [B, h, G, S]
        Var heads = matmul(alpha, memory.values);  // [B, h, G, S] @ [B, h, S, d] -> [B, h, G, d]
        Var concat_heads = reshape(permute(heads, {0, 2, 1, 3}), {B * G, h * d});
        return {output.forward(concat_heads), reshape(mean(alpha, 1), {B * G, S}), alpha};
    }
    // </doc:multi-head-forward>

    // The per-head layouts grow along their position axes: keys [B, h, d, S], values [B, h, S, d].
    Memory append(const Memory& past, const Memory& now) const override {
        return {concat({past.values, now.values}, 2), concat({past.keys, now.keys}, 3), concat({past.valid, now.valid}, 1)};
    }

private:
    // Keys and values projected once per batch, already laid out per head: keys [B, h, d, S] (ready
    // for q k^T), values [B, h, S, d].
    Memory project(const Var& values, const Var& valid) const override {
        const std::size_t B = values.shape()[0], S = values.shape()[1], h = sizes_.heads, d = sizes_.query / h;
        const Var k = permute(reshape(key.forward(values), {B, S, h, d}), {0, 2, 3, 1});
        const Var v = permute(reshape(value.forward(values), {B, S, h, d}), {0, 2, 1, 3});
        return {v, k, valid};
    }
};

}  // namespace

AttentionPtr make_multi_head_attention(const AttentionSizes& s, Generator& gen) {
    if (s.query == 0 || s.key == 0 || s.heads == 0 || s.query % s.heads != 0)
        throw Error(fmt::format("multi_head attention: {} heads must divide the query size {} (key size {})", s.heads,
                                s.query, s.key));
    return std::make_unique<MultiHeadAttention>(s, gen);
}

}  // namespace tg
