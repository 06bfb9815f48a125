#include "text/metrics.hpp"

#include <algorithm>
#include <cmath>
#include <map>
#include <set>
#include <string_view>

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

namespace {

// One rewrite rule of 13a's regular expressions, all of the form (A)(B) -> A' B', applied as
// Python's re.sub does: left to right, matches not overlapping.
template <class First, class Second>
std::string rewrite(const std::string& in, First first, Second second, const char* before, const char* between,
                    const char* after) {
    std::string out;
    out.reserve(in.size() + 16);
    std::size_t i = 0;
    while (i < in.size()) {
        if (i + 1 < in.size() && first(in[i]) && second(in[i + 1])) {
            out += before;
            out += in[i];
            out += between;
            out += in[i + 1];
            out += after;
            i += 2;
        } else {
            out += in[i++];
        }
    }
    return out;
}

bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_period_or_comma(char c) { return c == '.' || c == ','; }

// The language-dependent class of 13a: [{-~[-` -&(-+:-@/], i.e. { | } ~ [ \ ] ^ _ ` space ! " # $ % &
// ( ) * + : ; < = > ? @ /. (Not the apostrophe, the dash, the period or the comma.)
bool is_13a_symbol(char c) {
    const auto u = static_cast<unsigned char>(c);
    return (u >= 0x7b && u <= 0x7e) || (u >= 0x5b && u <= 0x60) || (u >= 0x20 && u <= 0x26) || (u >= 0x28 && u <= 0x2b) ||
           (u >= 0x3a && u <= 0x40) || u == 0x2f;
}

void replace_all(std::string& s, const std::string& from, const std::string& to) {
    for (std::size_t p = s.find(from); p != std::string::npos; p = s.find(from, p + to.size())) s.replace(p, from.size(), to);
}

}  // namespace

Sentence tokenize_13a(const std::string& input) {
    std::string line = input;
    replace_all(line, "<skipped>", "");
    replace_all(line, "-\n", "");
    replace_all(line, "\n", " ");
    if (line.find('&') != std::string::npos) {
        replace_all(line, "&quot;", "\"");
        replace_all(line, "&amp;", "&");
        replace_all(line, "&lt;", "<");
        replace_all(line, "&gt;", ">");
    }
    line = " " + line + " ";
    std::string spaced;  // rule 1: every symbol of the class surrounded by spaces
    for (char c : line) {
        if (is_13a_symbol(c)) spaced += ' ', spaced += c, spaced += ' ';
        else spaced += c;
    }
    spaced = rewrite(spaced, [](char c) { return !is_digit(c); }, is_period_or_comma, "", " ", " ");   // ([^0-9])([\.,]) -> \1 \2_
    spaced = rewrite(spaced, is_period_or_comma, [](char c) { return !is_digit(c); }, " ", " ", "");   // ([\.,])([^0-9]) -> _\1 \2
    spaced = rewrite(spaced, is_digit, [](char c) { return c == '-'; }, "", " ", " ");                 // ([0-9])(-) -> \1 \2_
    for (char& c : spaced)  // the other ASCII whitespace splits too (split_words splits on space and tab)
        if (c == '\n' || c == '\r' || c == '\f' || c == '\v') c = ' ';
    return split_words(spaced);
}

double corpus_bleu_13a(std::span<const std::string> hypotheses, std::span<const std::string> references) {
    std::vector<Sentence> h, r;
    for (const std::string& s : hypotheses) h.push_back(tokenize_13a(s));
    for (const std::string& s : references) r.push_back(tokenize_13a(s));
    return corpus_bleu(h, r);
}

void BleuStats::add(const Sentence& hypothesis, const Sentence& reference) {
    hyp_len += hypothesis.size();
    ref_len += reference.size();
    for (std::size_t n = 1; n <= 4; ++n) {
        const NGramCounts ref = ngrams(reference, n);
        for (const auto& [gram, count] : ngrams(hypothesis, n)) {
            auto it = ref.find(gram);
            matched[n - 1] += std::min(count, it == ref.end() ? std::size_t{0} : it->second);  // clipped
            total[n - 1] += count;
        }
    }
}

double BleuStats::bleu() const {
    double log_precision = 0.0;
    for (std::size_t n = 0; n < 4; ++n) {
        if (matched[n] == 0) return 0.0;
        log_precision += std::log(static_cast<double>(matched[n]) / static_cast<double>(total[n])) / 4.0;
    }
    const double brevity = hyp_len < ref_len ? std::exp(1.0 - static_cast<double>(ref_len) / static_cast<double>(hyp_len)) : 1.0;
    return 100.0 * brevity * std::exp(log_precision);
}

double corpus_bleu(std::span<const Sentence> hypotheses, std::span<const Sentence> references) {
    BleuStats stats;
    for (std::size_t k = 0; k < hypotheses.size() && k < references.size(); ++k) stats.add(hypotheses[k], references[k]);
    return stats.bleu();
}

namespace {

// The code points of UTF-8 text, without the white space Python's \s matches (sacreBLEU removes it
// with re.sub(r"\s+", "")). A byte that is not valid UTF-8 counts as one character of its own.
std::u32string characters_without_space(const std::string& text) {
    std::u32string out;
    for (std::size_t i = 0; i < text.size();) {
        const auto byte = static_cast<unsigned char>(text[i]);
        const std::size_t length = byte < 0x80 ? 1 : (byte >> 5) == 0x6 ? 2 : (byte >> 4) == 0xE ? 3 : (byte >> 3) == 0x1E ? 4 : 1;
        char32_t c = length == 1 ? byte : byte & (0x7F >> length);
        bool valid = i + length <= text.size();
        for (std::size_t k = 1; valid && k < length; ++k) {
            const auto next = static_cast<unsigned char>(text[i + k]);
            valid = (next & 0xC0) == 0x80;
            c = (c << 6) | (next & 0x3F);
        }
        if (!valid) c = byte, i += 1;
        else i += length;
        const bool space = (c >= 0x09 && c <= 0x0D) || c == 0x20 || (c >= 0x1C && c <= 0x1F) || c == 0x85 || c == 0xA0 ||
                           c == 0x1680 || (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 || c == 0x202F ||
                           c == 0x205F || c == 0x3000;
        if (!space) out.push_back(c);
    }
    return out;
}

}  // namespace

void ChrfStats::add(const std::string& hypothesis, const std::string& reference) {
    const std::u32string h = characters_without_space(hypothesis), r = characters_without_space(reference);
    for (int order = 1; order <= kOrder; ++order) {
        const auto n = static_cast<std::size_t>(order);
        std::map<std::u32string_view, std::size_t> in_ref;
        for (std::size_t i = 0; i + n <= r.size(); ++i) ++in_ref[std::u32string_view(r).substr(i, n)];
        std::size_t matches = 0;  // each hypothesis n-gram matches one unused reference occurrence: the clipped count
        for (std::size_t i = 0; i + n <= h.size(); ++i) {
            auto it = in_ref.find(std::u32string_view(h).substr(i, n));
            if (it != in_ref.end() && it->second > 0) --it->second, ++matches;
        }
        hyp[order - 1] += h.size() >= n ? h.size() - n + 1 : 0;
        ref[order - 1] += r.size() >= n ? r.size() - n + 1 : 0;
        matched[order - 1] += matches;
    }
}

double ChrfStats::chrf() const {
    double precision = 0.0, recall = 0.0;
    int orders = 0;  // the orders both sides have n-grams of
    for (int k = 0; k < kOrder; ++k) {
        if (hyp[k] == 0 || ref[k] == 0) continue;
        precision += static_cast<double>(matched[k]) / static_cast<double>(hyp[k]);
        recall += static_cast<double>(matched[k]) / static_cast<double>(ref[k]);
        ++orders;
    }
    if (orders == 0) return 0.0;
    precision /= orders;
    recall /= orders;
    if (precision + recall == 0.0) return 0.0;
    const double b2 = kBeta * kBeta;
    return 100.0 * (1.0 + b2) * precision * recall / (b2 * precision + recall);
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
