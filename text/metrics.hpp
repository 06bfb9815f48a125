// Translation metrics: corpus BLEU, chrF and the alignment error rate.
#pragma once
#include <cstddef>
#include <span>
#include <string>

#include "corpus.hpp"

namespace tg::text {

// Corpus BLEU-4 (Papineni et al. 2002), 0-100: clipped n-gram precisions for n = 1..4 summed over
// the corpus, geometric mean, brevity penalty exp(1 - r/c) when the hypotheses are shorter than
// the references; no smoothing, so 0 when some n has no match. Whitespace tokens.
double corpus_bleu(std::span<const Sentence> hypotheses, std::span<const Sentence> references);

// The sums corpus BLEU is made of, added sentence by sentence: a corpus of any size is scored in the
// memory of one sentence. corpus_bleu(h, r) is BleuStats with every pair added, then bleu().
struct BleuStats {
    std::size_t matched[4] = {}, total[4] = {}, hyp_len = 0, ref_len = 0;
    void add(const Sentence& hypothesis, const Sentence& reference);
    double bleu() const;
};

// The "13a" tokenization (mteval-v13a.pl, sacreBLEU's default): BLEU as the field reports it is
// corpus_bleu over 13a tokens of detokenized hypotheses and raw references. Punctuation and symbols
// become tokens of their own, a period or comma only when not between digits, a dash after a digit;
// &quot; &amp; &lt; &gt; are unescaped first. Splits on ASCII whitespace.
Sentence tokenize_13a(const std::string& line);
double corpus_bleu_13a(std::span<const std::string> hypotheses, std::span<const std::string> references);

// chrF2 (Popovic 2015) as sacreBLEU computes it by default (chrF2, "nc:6|nw:0|space:no"): character
// n-grams of orders 1-6 over the text with white space removed, their clipped matches counted over the
// whole corpus; per order, precision = matches / hypothesis n-grams and recall = matches / reference
// n-grams, averaged over the orders both sides have; then the F-score with recall weighted beta = 2:
//     chrF = 100 (1 + b^2) P R / (b^2 P + R)
// Characters are Unicode code points (the text is UTF-8). Accumulate sentence by sentence, then chrf().
struct ChrfStats {
    static constexpr int kOrder = 6;
    static constexpr double kBeta = 2.0;
    std::size_t hyp[kOrder] = {}, ref[kOrder] = {}, matched[kOrder] = {};
    void add(const std::string& hypothesis, const std::string& reference);
    double chrf() const;
};
// The signature sacreBLEU prints with each score, so that figures can be compared: what was measured.
inline constexpr const char* kChrfSignature = "nrefs:1|case:mixed|eff:yes|nc:6|nw:0|space:no";

// Alignment error rate (Och & Ney 2003) with every gold link taken as sure (S = P):
//     AER = 1 - 2 |A & S| / (|A| + |S|)
// Accumulate sentence by sentence, then read aer().
struct AlignmentScore {
    std::size_t matched = 0, predicted = 0, gold = 0;
    void add(const Alignment& predicted_links, const Alignment& gold_links);
    double aer() const;
};

}  // namespace tg::text
