// Additive attention: Bahdanau et al. 2015, the paper's alignment model (Eq. 6, Appendix A.1.2).
//
//     K_j  = U_a h_j + b_a                   keys, computed once per sentence (project)
//     e_ij = v_a . tanh(W_a s_{i-1} + K_j)   a one-hidden-layer network scores every pair
//
// Parameter names: query.weight (W_a [A, Q], no bias), key.weight (U_a [A, K]), key.bias (b_a [A]), v [A].
#include <fmt/format.h>

#include "autograd/ops.hpp"
#include "kernels/kernels.hpp"
#include "layers/attention.hpp"
#include "layers/linear.hpp"

namespace tg {

namespace {

class AdditiveAttention : public ScoredAttention {
public:
    AdditiveAttention(const AttentionSizes& s, Generator& gen)
        : ScoredAttention(s), query(s.query, s.attention, gen, /*bias=*/false), key(s.key, s.attention, gen),
          v(uniform_init({s.attention}, s.attention, gen)) {
        register_module("query", query);
        register_module("key", key);
        register_parameter("v", v);
    }
    const char* kind() const override { return "additive"; }

    Linear query;  // W_a
    Linear key;    // U_a, b_a
    Parameter v;   // v_a [A]

private:
    Memory project(const Var& values, const Var& valid) const override {
        return {values, key.forward(values), valid};  // K_j = U_a h_j + b_a
    }

    // <doc:additive-scores>
    Var scores(const Memory& memory, const Var& query_state, std::size_t G) const override {
        const Var wq = query.forward(query_state);  // W_a s_{i-1}: [B*G, A]
        if constexpr (kernels::enabled) return kernels::additive_scores(wq, memory.keys, v);  // one fused op
        const std::size_t B = memory.keys.shape()[0], S = memory.keys.shape()[1], A = memory.keys.shape()[2];
        Var energy = tanh(reshape(wq, {B, G, 1, A}) + reshape(memory.keys, {B, 1, S, A}));  // [B, G, S, A]
        return reshape(matmul(reshape(energy, {B * G * S, A}), reshape(v, {A, 1})), {B * G, S});  // v_a . tanh(...)
    }
    // </doc:additive-scores>
};

}  // namespace

AttentionPtr make_additive_attention(const AttentionSizes& s, Generator& gen) {
    if (s.query == 0 || s.key == 0 || s.attention == 0)
        throw Error(fmt::format("additive attention: sizes query {}, key {}, attention {} must all be at least 1", s.query,
                                s.key, s.attention));
    return std::make_unique<AdditiveAttention>(s, gen);
}

}  // namespace tg
