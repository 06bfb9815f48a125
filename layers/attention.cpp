// What the attention family shares (layers/attention.hpp): the checks, the masked softmax and the
// weighted sum, and the table of score functions.
#include "layers/attention.hpp"

#include <fmt/format.h>

#include "autograd/ops.hpp"

namespace tg {

// <doc:attention-kinds>
// Each score function's file (layers/attention/*.cpp) defines its make_...; registering one is its
// declaration and its row here (and its file in meson.build).
AttentionPtr make_additive_attention(const AttentionSizes&, Generator&);
// </doc:attention-kinds>
AttentionPtr make_dot_attention(const AttentionSizes&, Generator&);
AttentionPtr make_general_attention(const AttentionSizes&, Generator&);
AttentionPtr make_scaled_dot_attention(const AttentionSizes&, Generator&);
AttentionPtr make_multi_head_attention(const AttentionSizes&, Generator&);

const std::vector<AttentionKind>& attention_kinds() {
    static const std::vector<AttentionKind> kinds = {
// <doc:attention-kinds-table>
        {"additive", "v . tanh(W q + U k + b), Bahdanau et al. 2015 (the paper's)", make_additive_attention},
// </doc:attention-kinds-table>
        {"dot", "q . k, Luong et al. 2015 (needs equal query and key sizes)", make_dot_attention, true},
        {"general", "q^T W k, Luong et al. 2015", make_general_attention},
        {"scaled_dot", "q . k / sqrt(K), Vaswani et al. 2017 (needs equal sizes)", make_scaled_dot_attention, true},
        {"multi_head", "heads of scaled dot products of projections, Vaswani et al. 2017", make_multi_head_attention},
    };
    return kinds;
}

const AttentionKind* find_attention_kind(const std::string& name) {
    for (const AttentionKind& k : attention_kinds())
        if (name == k.name) return &k;
    return nullptr;
}

std::string attention_kind_names() {
    std::string names;
    for (const AttentionKind& k : attention_kinds()) names += (names.empty() ? "" : ", ") + std::string(k.name);
    return names;
}

AttentionPtr make_attention(const std::string& kind, const AttentionSizes& sizes, Generator& gen) {
    if (const AttentionKind* k = find_attention_kind(kind)) return k->make(sizes, gen);
    throw Error(fmt::format("attention '{}': unknown; the score functions are {}", kind, attention_kind_names()));
}

Attention::Memory Attention::precompute(const Var& values, const Var& valid) const {
    const Shape& v = values.shape();
    const Shape& m = valid.shape();
    const bool mask_fits = (m.rank() == 2 || m.rank() == 3) && m[0] == v[0] && m[m.rank() - 1] == v[1];
    if (v.rank() != 3 || v[2] != sizes_.key || !mask_fits)
        throw ShapeError(fmt::format("{} attention: values {} must be [B, S, {}] and the mask {} [B, S] or [B, G, S]", kind(),
                                     v.str(), sizes_.key, m.str()));
    return project(values, valid);
}

Attention::Memory Attention::append(const Memory& past, const Memory& now) const {
    const bool keys_are_values = &past.keys.node() == &past.values.node();
    Var values = concat({past.values, now.values}, 1);
    return {values, keys_are_values ? values : concat({past.keys, now.keys}, 1), concat({past.valid, now.valid}, 1)};
}

std::size_t Attention::queries_per_sentence(const Memory& memory, const Var& query) const {
    const std::size_t B = memory.valid.shape()[0];
    const Shape& q = query.shape();
    if (q.rank() != 2 || q[1] != sizes_.query || B == 0 || q[0] == 0 || q[0] % B != 0 ||
        (memory.valid.shape().rank() == 3 && memory.valid.shape()[1] != q[0] / B))
        throw ShapeError(fmt::format("{} attention: query {} for {} sentences of values {} and a mask {} (expected [B*G, {}])",
                                     kind(), q.str(), B, memory.values.shape().str(), memory.valid.shape().str(), sizes_.query));
    return q[0] / B;
}

// <doc:attention-forward>
Attention::Result ScoredAttention::forward(const Memory& memory, const Var& query) const {
    const std::size_t G = queries_per_sentence(memory, query);
    const std::size_t B = memory.valid.shape()[0], S = memory.values.shape()[1], K = memory.values.shape()[2];
    Var e = scores(memory, query, G).label("e");  // e_ij = score(s_{i-1}, k_j)   [B*G, S]
    Var alpha;
    if (G == 1 && memory.valid.shape().rank() == 2) {
        alpha = softmax(e, 1, memory.valid);  // Eq. 6, padding -> 0
    } else {  // G queries a sentence: its mask [B, 1, S] shared, or one per query [B, G, S]
        const Var valid = memory.valid.shape().rank() == 3 ? memory.valid : reshape(memory.valid, {B, 1, S});
        alpha = reshape(softmax(reshape(e, {B, G, S}), 2, valid), {B * G, S});
    }
    alpha.label("alpha");
    Var context = matmul(reshape(alpha, {B, G, S}), memory.values);  // Eq. 5: [B, G, K], each sentence's once
    return {reshape(context, {B * G, K}), alpha, Var()};
}
// </doc:attention-forward>

Var dot_scores(const Var& query, const Var& keys, std::size_t G) {
    const std::size_t B = keys.shape()[0], S = keys.shape()[1], D = keys.shape()[2];
    // [B, G, D] @ [B, D, S]: each sentence's G queries against its keys in one product
    return reshape(matmul(reshape(query, {B, G, D}), transpose(keys, 1, 2)), {B * G, S});
}

}  // namespace tg
