// General ("bilinear") attention: Luong et al. 2015, Eq. 8: e_ij = s^T W_a h_j, a matrix between
// the query and the keys, so that their sizes may differ. W_a h_j does not depend on the decoder,
// so it is the keys, computed once per batch, and each step is a dot product with them.
//
// Parameter name: key.weight (W_a [Q, K], no bias).
#include <fmt/format.h>

#include "layers/attention.hpp"
#include "layers/linear.hpp"

namespace tg {

namespace {

class GeneralAttention : public ScoredAttention {
public:
    GeneralAttention(const AttentionSizes& s, Generator& gen) : ScoredAttention(s), key(s.key, s.query, gen, /*bias=*/false) {
        register_module("key", key);
    }
    const char* kind() const override { return "general"; }

    Linear key;  // W_a

private:
    Memory project(const Var& values, const Var& valid) const override {
        return {values, key.forward(values), valid};  // W_a h_j: [B, S, Q]
    }
    Var scores(const Memory& memory, const Var& query, std::size_t G) const override {
        return dot_scores(query, memory.keys, G);  // e_ij = s_{i-1} . (W_a h_j)
    }
};

}  // namespace

AttentionPtr make_general_attention(const AttentionSizes& s, Generator& gen) {
    if (s.query == 0 || s.key == 0)
        throw Error(fmt::format("general attention: sizes query {} and key {} must be at least 1", s.query, s.key));
    return std::make_unique<GeneralAttention>(s, gen);
}

}  // namespace tg
