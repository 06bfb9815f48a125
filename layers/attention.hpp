// Attention: a query asked of a sentence's keys and values, scored, normalised and summed. The paper's
// alignment model (Section 3.1) started a family; its members differ only in how a query is scored
// against a key, so they share one interface, as in Joey NMT:
//
//     memory  = attention.precompute(values, valid)   once per batch: keys from the values h_j
//     context, weights = attention.forward(memory, query)   once per decoder step
//
//     e_ij    = score(s_{i-1}, k_j)                  the score function: the one part that differs
//     alpha_i = softmax_j(e_i), masked               padding gets exactly 0   (Eq. 6)
//     c_i     = sum_j alpha_ij h_j                   the context   (Eq. 5)
//
// The score functions, each in a file of layers/attention/ with its line in the table of
// layers/attention.cpp (docs/extending.md walks through adding one):
//   additive    v . tanh(W q + U k + b)             Bahdanau et al. 2015, Eq. 6 and A.1.2 (the default)
//   dot         q . k                               Luong et al. 2015, Eq. 8 (needs Q = K)
//   general     q^T W k                             Luong et al. 2015, Eq. 8 ("bilinear")
//   scaled_dot  q . k / sqrt(K)                     Vaswani et al. 2017, Eq. 1 (needs Q = K; dot.cpp)
//   multi_head  h heads of scaled dot products of projections, concatenated and projected
//                                                   Vaswani et al. 2017, Section 3.2.2
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "module.hpp"

namespace tg {

// The sizes a score function is built for.
struct AttentionSizes {
    std::size_t query = 0;      // Q: a query's size (the decoder's state s_{i-1})
    std::size_t key = 0;        // K: a value's size (the annotations h_j)
    std::size_t attention = 0;  // A: the hidden size of additive attention (unused by the others)
    std::size_t heads = 1;      // multi_head: the number of heads (they split Q)
};

class Attention : public Module {
public:
    // What every step reads, computed once per batch by precompute().
    struct Memory {
        Var values;  // what the context averages: h_j [B, S, K], or a projection of it   [B, ...]
        Var keys;    // what queries are scored against: h_j, or a projection   [B, ...]
        Var valid;   // 1 at real positions, 0 at padding   [B, S]; or each query's own   [B, G, S]
    };
    struct Result {
        Var context;       // c_i      [B*G, context_size()]
        Var weights;       // alpha_i  [B*G, S]   (multi_head: the heads' mean)
        Var head_weights;  // multi_head only: each head's  [B, heads, G, S]  (the softmax's own layout: no copy)
    };

    // values [B, S, K] and their mask: [B, S], the same for every query of a sentence, or [B, G, S],
    // each of its G queries' own (a decoder's self-attention: query i sees positions j <= i).
    Memory precompute(const Var& values, const Var& valid) const;
    // `past` followed by the positions of `now` (both from precompute, masks [B, S]): a decoder's
    // self-attention grows its memory one word at a time, keys computed once per word.
    virtual Memory append(const Memory& past, const Memory& now) const;
    // query [B*G, Q]: G queries a sentence (beam search's hypotheses), rows b*G .. b*G+G-1 asking
    // sentence b, against the sentence's one copy of the memory.
    virtual Result forward(const Memory& memory, const Var& query) const = 0;

    virtual const char* kind() const = 0;                                // its name in attention_kinds()
    virtual std::size_t context_size() const { return sizes_.key; }      // K, unless it projects the values
    const AttentionSizes& sizes() const { return sizes_; }

protected:
    explicit Attention(const AttentionSizes& sizes) : sizes_(sizes) {}
    // The keys and values precompute keeps: the values themselves unless overridden.
    virtual Memory project(const Var& values, const Var& valid) const { return {values, values, valid}; }
    // G, after checking that query [B*G, Q] fits the memory's B sentences.
    std::size_t queries_per_sentence(const Memory& memory, const Var& query) const;
    AttentionSizes sizes_;
};

// A score function and the rest the family shares: the masked softmax (Eq. 6) and the weighted sum
// of the values (Eq. 5). Each of additive, dot, general and scaled_dot writes scores() alone.
class ScoredAttention : public Attention {
public:
    Result forward(const Memory& memory, const Var& query) const override;

protected:
    using Attention::Attention;
    // e [B*G, S]: each query row's score against its sentence's keys.
    virtual Var scores(const Memory& memory, const Var& query, std::size_t G) const = 0;
};

// The registered score functions, and building one by name (tg::Error listing the names otherwise).
using AttentionPtr = std::unique_ptr<Attention>;
struct AttentionKind {
    const char* name;
    const char* formula;  // for --help: "v . tanh(W q + U k + b) (Bahdanau et al. 2015)"
    AttentionPtr (*make)(const AttentionSizes& sizes, Generator& gen);
    bool equal_sizes = false;  // compares the query with the keys directly: Q must equal K
};
const std::vector<AttentionKind>& attention_kinds();
const AttentionKind* find_attention_kind(const std::string& name);  // nullptr when there is none
std::string attention_kind_names();                                  // "additive, dot, ..."
AttentionPtr make_attention(const std::string& kind, const AttentionSizes& sizes, Generator& gen);

// The query and the keys of dot-product scores: e [B*G, S] = q . k_j over each sentence's keys
// [B, S, D], for query [B*G, D] (dot, general, scaled_dot share it).
Var dot_scores(const Var& query, const Var& keys, std::size_t G);

}  // namespace tg
