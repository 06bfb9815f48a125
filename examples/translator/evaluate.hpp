// Scoring a model on a set of sentence pairs: exact match, BLEU and (with gold alignments) AER,
// overall and by source length. Used by `translator eval` and by the paper's figures.
#pragma once
#include <map>
#include <vector>

#include "checkpoint.hpp"
#include "text/corpus.hpp"
#include "text/metrics.hpp"

namespace translator {

struct Scores {
    std::size_t sentences = 0, exact = 0;
    std::vector<tg::text::Sentence> hyps, refs;
    tg::text::AlignmentScore alignment;
    double exact_match() const;  // a fraction of the sentences
    double bleu() const;         // corpus BLEU-4, 0-100
};

struct Evaluation {
    Scores all;
    std::map<std::size_t, Scores> by_length;  // key: (source length - 1) / bucket
    std::size_t bucket = 5;
    bool has_aer = false;
    bool detokenized = false;                      // a subword model: BLEU on text, 13a-tokenized
    std::vector<std::string> hyps;                 // every translation as text, in file order
    std::vector<tg::text::Alignment> alignments;   // with want_alignments: the forced-decoding links scored by AER
};

// Translates every source (greedy in batches of similar lengths, or beam search of width `beam`)
// and scores the translations (a subword model's as text, with sacreBLEU's 13a tokenization); with `gold` (one alignment per pair), also the AER of the
// attention while the model reads each reference (forced decoding).
Evaluation evaluate(const LoadedModel& m, const std::vector<tg::text::SentencePair>& pairs,
                    const std::vector<tg::text::Alignment>* gold, std::size_t beam = 1, std::size_t bucket = 5,
                    bool want_alignments = false);

}  // namespace translator
