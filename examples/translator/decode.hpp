// Translating with a trained model: greedy decoding of a batch, beam search with length
// normalisation, and forced decoding of a reference (for alignments and AER). All run in an
// InferenceMode on the active tape: nothing is recorded, and each decoding step's values are released
// when the step ends, so memory is that of one step whatever the length, and the caller's tape is
// left as it was.
#pragma once
#include <cstdint>
#include <functional>
#include <stdexcept>
#include <vector>

#include "model.hpp"
#include "text/corpus.hpp"
#include "viz/heatmap.hpp"

namespace translator {

struct Translation {
    std::vector<std::int32_t> words;  // target ids, without </s>
    tg::viz::Matrix attention;        // one row per produced word (and the final </s>), one column per source id
    double score = 0.0;               // total log-probability
    double ranked = 0.0;              // beam search: the score hypotheses were ranked by (see DecodeOptions)
    bool finished = false;            // ended with </s> (not cut by the length limit)
};

// The most padded tokens (sentences x (longest source + longest target)) decoded or scored at once.
constexpr std::size_t kMaxBatchTokens = 16384;

// The default length limit: twice the source, plus 10.
std::size_t default_max_len(std::size_t source_len);

// How far to decode, and with what.
struct DecodeOptions {
    // The length limit of every sentence; 0: each sentence stops at its own default_max_len, so its
    // translation is the same in any batch.
    std::size_t max_len = 0;
    // false: </s> is a word like any other and every sentence runs max_len steps (benchmarks: a fixed
    // amount of work).
    bool stop_at_eos = true;
    // The model's output weight packed for decoding (tg::PackedWeight of model.output.weight): pack it
    // once to decode many batches or sentences with one model; without it, each call packs its own
    // (a few ms with a vocabulary of 16,000).
    const tg::PackedWeight* packed_output = nullptr;
    // How beam search ranks finished hypotheses of different lengths |y| (words, and </s> when it
    // ended): below 0 (the default), by log-probability per word, score / |y|; A >= 0, by GNMT's
    // length penalty (Wu et al. 2016, as OpenNMT's `-length_penalty wu -alpha A`): score / lp(y),
    // lp(y) = ((5 + |y|) / 6)^A. A = 0 ranks by the plain log-probability, which favours short ones.
    double length_penalty = -1.0;
    // Asked before each step: true stops decoding with DecodeCancelled (the server's client left, or
    // the server is stopping).
    std::function<bool()> cancelled = nullptr;
};

struct DecodeCancelled : std::runtime_error {
    DecodeCancelled() : std::runtime_error("decoding cancelled") {}
};

// The score beam search ranks a hypothesis by (DecodeOptions::length_penalty).
double ranking_score(double log_prob, std::size_t length, double length_penalty);

// Greedy decoding of several sentences at once; each source is a list of ids ending in </s>.
std::vector<Translation> greedy(const TranslationModel& model, const std::vector<std::vector<std::int32_t>>& sources,
                                const DecodeOptions& options = {});

// Beam search of width `beam` for one sentence; hypotheses are compared by log-probability
// divided by their length (counting </s>). Width 1 gives exactly the greedy translation.
Translation beam_search(const TranslationModel& model, const std::vector<std::int32_t>& source, std::size_t beam,
                        const DecodeOptions& options = {});
// The same for several sentences at once (K rows per sentence in one batch: the products are K x B
// rows tall), each with its own length limit: each sentence gets what it gets alone.
std::vector<Translation> beam_search(const TranslationModel& model, const std::vector<std::vector<std::int32_t>>& sources,
                                     std::size_t beam, const DecodeOptions& options = {});
// The n best hypotheses of each sentence (1 <= n <= beam), best first: `ranked` never increases down
// a list, and the first is beam_search's translation.
std::vector<std::vector<Translation>> beam_search_n_best(const TranslationModel& model,
                                                         const std::vector<std::vector<std::int32_t>>& sources,
                                                         std::size_t beam, std::size_t n, const DecodeOptions& options = {});

// Which attention to read of a model with several (the Transformer: a cross-attention per layer, each
// of several heads). The default is what decoding reports: RNNsearch's one attention, the
// Transformer's last layer with its heads averaged.
struct AttentionView {
    int layer = -1;  // 0-based; -1: the last
    int head = -1;   // 0-based; -1: the heads' mean
    bool is_default() const { return layer == -1 && head == -1; }
};
// The views a model has besides the default: one per layer and head (none for RNNsearch).
std::vector<AttentionView> attention_heads(const ModelConfig& config);

// Teacher-forced attention over each pair's reference: [target words + </s>] x [source ids]. A view
// other than the default is refused (tg::Error) for a model that has no such layer or head.
std::vector<tg::viz::Matrix> forced_attention(const TranslationModel& model, const std::vector<tg::text::EncodedPair>& pairs,
                                              const AttentionView& view = {});
// The same for several views at once, from one forward pass: [view][pair].
std::vector<std::vector<tg::viz::Matrix>> forced_attention(const TranslationModel& model,
                                                           const std::vector<tg::text::EncodedPair>& pairs,
                                                           const std::vector<AttentionView>& views);

// The alignment read off an attention matrix as the CLI spec defines it: for each target word
// (not the closing </s>), the source word (not the source's </s>) with the highest weight.
tg::text::Alignment alignment_from_attention(const tg::viz::Matrix& attention, std::size_t source_words,
                                             std::size_t target_words);

}  // namespace translator
