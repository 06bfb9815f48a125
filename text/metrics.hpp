// Translation metrics: corpus BLEU and the alignment error rate.
#pragma once
#include <cstddef>
#include <span>

#include "text/corpus.hpp"

namespace tg::text {

// Corpus BLEU-4 (Papineni et al. 2002), 0-100: clipped n-gram precisions for n = 1..4 summed over
// the corpus, geometric mean, brevity penalty exp(1 - r/c) when the hypotheses are shorter than
// the references; no smoothing, so 0 when some n has no match. Whitespace tokens.
double corpus_bleu(std::span<const Sentence> hypotheses, std::span<const Sentence> references);

// Alignment error rate (Och & Ney 2003) with every gold link taken as sure (S = P):
//     AER = 1 - 2 |A & S| / (|A| + |S|)
// Accumulate sentence by sentence, then read aer().
struct AlignmentScore {
    std::size_t matched = 0, predicted = 0, gold = 0;
    void add(const Alignment& predicted_links, const Alignment& gold_links);
    double aer() const;
};

}  // namespace tg::text
