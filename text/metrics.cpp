#include "text/metrics.hpp"

#include <algorithm>
#include <cmath>
#include <map>
#include <set>

namespace tg::text {

namespace {

using NGramCounts = std::map<std::vector<std::string>, std::size_t>;

NGramCounts ngrams(const Sentence& s, std::size_t n) {
    NGramCounts counts;
    for (std::size_t i = 0; i + n <= s.size(); ++i)
        ++counts[std::vector<std::string>(s.begin() + static_cast<std::ptrdiff_t>(i), s.begin() + static_cast<std::ptrdiff_t>(i + n))];
    return counts;
}

}  // namespace

double corpus_bleu(std::span<const Sentence> hypotheses, std::span<const Sentence> references) {
    std::size_t matched[4] = {}, total[4] = {}, hyp_len = 0, ref_len = 0;
    for (std::size_t k = 0; k < hypotheses.size() && k < references.size(); ++k) {
        hyp_len += hypotheses[k].size();
        ref_len += references[k].size();
        for (std::size_t n = 1; n <= 4; ++n) {
            const NGramCounts ref = ngrams(references[k], n);
            for (const auto& [gram, count] : ngrams(hypotheses[k], n)) {
                auto it = ref.find(gram);
                matched[n - 1] += std::min(count, it == ref.end() ? std::size_t{0} : it->second);  // clipped
                total[n - 1] += count;
            }
        }
    }
    double log_precision = 0.0;
    for (std::size_t n = 0; n < 4; ++n) {
        if (matched[n] == 0) return 0.0;
        log_precision += std::log(static_cast<double>(matched[n]) / static_cast<double>(total[n])) / 4.0;
    }
    const double brevity = hyp_len < ref_len ? std::exp(1.0 - static_cast<double>(ref_len) / static_cast<double>(hyp_len)) : 1.0;
    return 100.0 * brevity * std::exp(log_precision);
}

void AlignmentScore::add(const Alignment& predicted_links, const Alignment& gold_links) {
    const std::set<std::pair<int, int>> a(predicted_links.begin(), predicted_links.end());
    const std::set<std::pair<int, int>> s(gold_links.begin(), gold_links.end());
    for (const auto& link : a) matched += s.count(link);
    predicted += a.size();
    gold += s.size();
}

double AlignmentScore::aer() const {
    if (predicted + gold == 0) return 0.0;
    return 1.0 - 2.0 * static_cast<double>(matched) / static_cast<double>(predicted + gold);
}

}  // namespace tg::text
