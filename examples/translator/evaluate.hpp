// Scoring a model on a set of sentence pairs: exact match, BLEU, chrF and (with gold alignments) AER,
// overall and by source length. Used by `translator eval` and by the paper's figures.
#pragma once
#include <functional>
#include <map>
#include <optional>
#include <vector>

#include "kernels/packed.hpp"
#include "checkpoint.hpp"
#include "decode.hpp"
#include "text/corpus.hpp"
#include "text/metrics.hpp"

namespace translator {

struct Scores {
    std::size_t sentences = 0, exact = 0;
    tg::text::BleuStats bleu_stats;
    tg::text::ChrfStats chrf_stats;
    tg::text::AlignmentScore alignment;
    double exact_match() const;                          // a fraction of the sentences
    double bleu() const { return bleu_stats.bleu(); }    // corpus BLEU-4, 0-100
    double chrf() const { return chrf_stats.chrf(); }    // corpus chrF2, 0-100 (of the text, as sacreBLEU)
};

struct Evaluation {
    Scores all;
    std::map<std::size_t, Scores> by_length;  // key: (source length - 1) / bucket
    std::size_t bucket = 5;
    bool has_aer = false;
    bool detokenized = false;                      // a subword model: BLEU on text, 13a-tokenized
    std::vector<std::string> hyps;                 // every translation as text, in file order
    std::vector<tg::text::Alignment> alignments;   // with want_alignments: the forced-decoding links scored by AER
    // With gold alignments, a model of several attentions (the Transformer): the AER of each layer's
    // each head alone (attention_heads()), over all the sentences. `all.alignment` is the default view's.
    std::vector<std::pair<AttentionView, tg::text::AlignmentScore>> heads;
    const std::pair<AttentionView, tg::text::AlignmentScore>* best_head() const;  // lowest AER; null if none
};

// Scoring chunk by chunk: `translator eval` reads its file a chunk at a time, so a file of any length is
// scored in the memory of one chunk. Each sentence's translation is its own (batches never change it),
// so the scores are those of evaluate() on the whole file.
class Evaluator {
public:
    // length_penalty: beam search's ranking (DecodeOptions::length_penalty; below 0, log p per word).
    Evaluator(const LoadedModel& m, bool with_gold, std::size_t beam = 1, std::size_t bucket = 5, bool want_alignments = false,
              double length_penalty = -1);
    struct Chunk {
        std::vector<std::string> hyps;                // the chunk's translations as text, in order
        std::vector<tg::text::Alignment> alignments;  // with want_alignments: the links AER scores
    };
    // Translates and scores `pairs`; `gold` holds one alignment per pair when constructed with_gold.
    Chunk add(const std::vector<tg::text::SentencePair>& pairs, const std::vector<tg::text::Alignment>* gold);
    const Evaluation& result() const { return e_; }

private:
    const LoadedModel& m_;
    std::size_t beam_;
    double length_penalty_;
    bool want_alignments_;
    tg::PackedWeight packed_output_;  // once for every chunk
    Evaluation e_;
};

// Greedy decoding (beam 1) or beam search of every source, in batches of similar lengths: the target
// ids, in data's order. `stop`, polled between batches, ends it early: then nothing (std::nullopt).
std::optional<std::vector<std::vector<std::int32_t>>> translate_all(const TranslationModel& model,
                                                                    const std::vector<tg::text::EncodedPair>& data,
                                                                    std::size_t beam, const tg::PackedWeight& packed_output,
                                                                    const std::function<bool()>& stop = {}, double length_penalty = -1);

// What BLEU compares, as eval scores it: a subword model's text (detokenized) in sacreBLEU's 13a
// tokens, a word model's words as they are.
tg::text::Sentence bleu_tokens(const std::string& text, bool subwords);

// Translates every source (greedy in batches of similar lengths, or beam search of width `beam`)
// and scores the translations (a subword model's as text, with sacreBLEU's 13a tokenization); with `gold` (one alignment per pair), also the AER of the
// attention while the model reads each reference (forced decoding).
Evaluation evaluate(const LoadedModel& m, const std::vector<tg::text::SentencePair>& pairs,
                    const std::vector<tg::text::Alignment>* gold, std::size_t beam = 1, std::size_t bucket = 5,
                    bool want_alignments = false);

}  // namespace translator
