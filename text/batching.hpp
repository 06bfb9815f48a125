// Batches for sequence-to-sequence training: sentences of similar lengths together, padded with
// <pad> (id 0), with each sentence's true length so that padding can be masked everywhere.
#pragma once
#include <cstdint>
#include <span>
#include <vector>

#include "../autograd/random.hpp"
#include "corpus.hpp"

namespace tg::text {

struct EncodedPair {
    std::vector<std::int32_t> source;  // ids, ending with </s>
    std::vector<std::int32_t> target;  // ids, without <s> or </s>
};

struct Batch {
    std::size_t size = 0, src_len = 0, tgt_len = 0;  // B, S (longest source), T (longest target + 1)
    std::vector<std::int32_t> source;                // [B, S]  x_1 .. x_n </s> <pad>..
    std::vector<int> source_lengths;                 // [B]     n + 1
    std::vector<std::int32_t> decoder_input;         // [B, T]  <s> y_1 .. y_m <pad>..
    std::vector<std::int32_t> decoder_target;        // [B, T]  y_1 .. y_m </s> <pad>..
    std::vector<std::size_t> index;                  // [B]     positions of the pairs in the data set
    std::size_t target_tokens = 0;                   // non-pad entries of decoder_target
};

// Pairs as ids: the source with its closing </s>; unknown words become <unk>.
std::vector<EncodedPair> encode_pairs(std::span<const SentencePair> pairs, const Vocab& src, const Vocab& tgt);

Batch make_batch(std::span<const EncodedPair> data, std::span<const std::size_t> which);

// Groups the pairs into batches of at most batch_size sentences of similar lengths. With a
// generator the grouping and the order of the batches are shuffled (a new order every call);
// without, the order is deterministic (sorted by length), for evaluation. With max_tokens, a batch
// also holds at most that many padded tokens (sentences x longest source + sentences x longest
// target), so a few long sentences make small batches instead of huge ones.
std::vector<std::vector<std::size_t>> plan_batches(std::span<const EncodedPair> data, std::size_t batch_size,
                                                   Generator* shuffle, std::size_t max_tokens = 0);

// The padded tokens of a batch of these pairs: sentences x (longest source + longest target + 1).
std::size_t padded_tokens(std::span<const EncodedPair> data, std::span<const std::size_t> which);

}  // namespace tg::text
