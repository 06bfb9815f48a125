// AdditiveAttention: Bahdanau attention (the paper's alignment model, Eq. 5-6 and Appendix A.1.2).
//
//     K_j     = U_a h_j + b_a                   keys, computed once per sentence (precompute)
//     e_ij    = v_a . tanh(W_a s_{i-1} + K_j)   alignment scores           (Eq. 6, A.1.2)
//     alpha_i = softmax_j(e_i), masked          weights; padding gets exactly 0   (Eq. 6)
//     c_i     = sum_j alpha_ij h_j              context vector             (Eq. 5)
//
// Parameter names: query.weight (W_a [A, Q], no bias), key.weight (U_a [A, K]), key.bias (b_a [A]), v [A].
#pragma once
#include "linear.hpp"

namespace tg {

class AdditiveAttention : public Module {
public:
    AdditiveAttention(std::size_t query_size, std::size_t key_size, std::size_t attention_size, Generator& gen);

    struct Keys {
        Var annotations;  // h_j   [B, S, K]
        Var keys;         // K_j   [B, S, A]
        Var valid;        // 1 at real positions, 0 at padding  [B, S]
    };
    // Once per batch of sentences: the keys of every annotation.
    Keys precompute(const Var& annotations, const Var& valid) const;

    struct Result {
        Var context;  // c_i     [B, K]   ([B*G, K] for G queries a sentence)
        Var weights;  // alpha_i [B, S]   ([B*G, S])
    };
    // Once per decoder step: query s_{i-1} [B, Q]. Beam search asks G queries of each sentence at once,
    // [B*G, Q] (rows b*G .. b*G+G-1 for sentence b), against the sentence's keys, not G copies of them.
    Result forward(const Keys& keys, const Var& query) const;

    Linear query;  // W_a
    Linear key;    // U_a, b_a
    Parameter v;   // v_a [A]
};

}  // namespace tg
