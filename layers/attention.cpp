#include "layers/attention.hpp"

#include <fmt/format.h>

#include "autograd/ops.hpp"
#include "kernels/kernels.hpp"

namespace tg {

AdditiveAttention::AdditiveAttention(std::size_t query_size, std::size_t key_size, std::size_t attention_size,
                                     Generator& gen)
    : query(query_size, attention_size, gen, /*bias=*/false),
      key(key_size, attention_size, gen),
      v(uniform_init({attention_size}, attention_size, gen)) {
    register_module("query", query);
    register_module("key", key);
    register_parameter("v", v);
}

AdditiveAttention::Keys AdditiveAttention::precompute(const Var& annotations, const Var& valid) const {
    const Shape& a = annotations.shape();
    if (a.rank() != 3 || !(valid.shape() == Shape{a[0], a[1]}))
        throw ShapeError(fmt::format("AdditiveAttention: annotations {} must be [B, S, K] and the mask {} [B, S]",
                                     a.str(), valid.shape().str()));
    return {annotations, key.forward(annotations), valid};  // K_j = U_a h_j + b_a
}

// <doc:attention-forward>
AdditiveAttention::Result AdditiveAttention::forward(const Keys& keys, const Var& query_state) const {
    const Shape& k = keys.keys.shape();  // [B, S, A]
    const std::size_t B = k[0], S = k[1], K = keys.annotations.shape()[2];
    const Shape& q = query_state.shape();  // [B, H], or G queries a sentence [B*G, H] (beam search's hypotheses)
    if (q.rank() != 2 || B == 0 || q[0] == 0 || q[0] % B != 0)
        throw ShapeError(fmt::format("AdditiveAttention: query {} for keys {}", q.str(), k.str()));
    const std::size_t G = q[0] / B;
    // e_ij = v_a . tanh(W_a s_{i-1} + K_j), Eq. 6 with A.1.2, each query row against its sentence's keys
    const Var wq = query.forward(query_state);  // W_a s_{i-1}: [B*G, A]
    Var scores;
    if constexpr (kernels::enabled) {  // the same in one fused op, without the [B, G, S, A] temporaries
        scores = kernels::additive_scores(wq, keys.keys, v);
    } else {
        const std::size_t A = k[2];
        Var energy = tanh(reshape(wq, {B, G, 1, A}) + reshape(keys.keys, {B, 1, S, A}));  // [B, G, S, A]
        scores = reshape(matmul(reshape(energy, {B * G * S, A}), reshape(v, {A, 1})), {B * G, S});
    }
    scores.label("e");  // [B*G, S]
    Var alpha = G == 1 ? softmax(scores, 1, keys.valid)                                // Eq. 6, padding -> 0
                       : reshape(softmax(reshape(scores, {B, G, S}), 2, reshape(keys.valid, {B, 1, S})), {B * G, S});
    alpha.label("alpha");
    Var context = matmul(reshape(alpha, {B, G, S}), keys.annotations);  // Eq. 5: [B, G, K], each sentence's once
    return {reshape(context, {B * G, K}), alpha};
}
// </doc:attention-forward>

}  // namespace tg
