// Dot-product attention, with no parameters: the query and the keys must be vectors of one size.
//   dot         e_ij = s^T h_j              Luong et al. 2015, Eq. 8
//   scaled_dot  e_ij = s^T h_j / sqrt(K)    Vaswani et al. 2017, Eq. 1: dividing by sqrt(K) keeps the
//               scores' spread independent of the size, so the softmax does not saturate as vectors grow.
#include <fmt/format.h>

#include <cmath>

#include "autograd/ops.hpp"
#include "layers/attention.hpp"

namespace tg {

namespace {

class DotAttention : public ScoredAttention {
public:
    DotAttention(const AttentionSizes& s, bool scaled)
        : ScoredAttention(s), scale_(scaled ? 1.0f / std::sqrt(static_cast<float>(s.key)) : 1.0f) {}
    const char* kind() const override { return scale_ == 1.0f ? "dot" : "scaled_dot"; }

private:
    float scale_;
    Var scores(const Memory& memory, const Var& query, std::size_t G) const override {
        return dot_scores(scale_ == 1.0f ? query : query * scale_, memory.keys, G);  // e_ij = s_{i-1} . h_j (/ sqrt(K))
    }
};

AttentionPtr make(const AttentionSizes& s, bool scaled) {
    if (s.query != s.key || s.query == 0)
        throw Error(fmt::format("{} attention: the query ({}) and the keys ({}) must have one size", scaled ? "scaled_dot" : "dot",
                                s.query, s.key));
    return std::make_unique<DotAttention>(s, scaled);
}

}  // namespace

AttentionPtr make_dot_attention(const AttentionSizes& s, Generator&) { return make(s, false); }
AttentionPtr make_scaled_dot_attention(const AttentionSizes& s, Generator&) { return make(s, true); }

}  // namespace tg
