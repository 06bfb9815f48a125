#include "text/corpus.hpp"

#include <fmt/format.h>

#include <istream>
#include <sstream>

#include "io/files.hpp"

namespace tg::text {

namespace {

// The byte offset of the first invalid UTF-8 sequence in s, or npos.
std::size_t invalid_utf8(const std::string& s) {
    std::size_t i = 0;
    while (i < s.size()) {
        const auto c = static_cast<unsigned char>(s[i]);
        std::size_t n = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xe ? 3 : (c >> 3) == 0x1e ? 4 : 0;
        if (n == 0 || i + n > s.size()) return i;
        std::uint32_t cp = n == 1 ? c : c & (0x7f >> n);
        for (std::size_t k = 1; k < n; ++k) {
            const auto cc = static_cast<unsigned char>(s[i + k]);
            if ((cc >> 6) != 0x2) return i;
            cp = cp << 6 | (cc & 0x3f);
        }
        const bool overlong = (n == 2 && cp < 0x80) || (n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000);
        if (overlong || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return i;
        i += n;
    }
    return std::string::npos;
}

// Calls f(line_number, line) for each line, cleaned as clean_line does; checks length and UTF-8.
template <class F>
void for_each_line(const std::string& text, const std::string& name, F&& f) {
    std::size_t start = 0, number = 0;
    while (start < text.size()) {
        std::size_t end = text.find('\n', start);
        if (end == std::string::npos) end = text.size();
        std::string line = text.substr(start, end - start);
        ++number;
        clean_line(line, number == 1);
        check_line(line, name, number);
        f(number, line);
        start = end + 1;
    }
}

}  // namespace

void check_line(const std::string& line, const std::string& name, std::size_t number) {
    if (line.size() > kMaxLineBytes)
        throw FileError(fmt::format("{}:{}:1: line of {} bytes is longer than the limit of {}", name, number, line.size(),
                                    kMaxLineBytes));
    if (std::size_t bad = invalid_utf8(line); bad != std::string::npos)
        throw FileError(fmt::format("{}:{}:{}: invalid UTF-8", name, number, bad + 1));
}

bool read_line(std::istream& in, std::string& line, const std::string& name, std::size_t number) {
    line.clear();
    std::streambuf* buf = in.rdbuf();
    bool any = false;
    for (int c; (c = buf->sbumpc()) != std::char_traits<char>::eof();) {
        any = true;
        if (c == '\n') break;
        if (line.size() > kMaxLineBytes + 1)  // (one byte more than the limit: a CR and a BOM may still go)
            throw FileError(fmt::format("{}:{}:1: a line of more than {} bytes; the limit is {}", name, number,
                                        kMaxLineBytes + 1, kMaxLineBytes));
        line.push_back(static_cast<char>(c));
    }
    if (!any) {
        in.setstate(std::ios::eofbit);
        return false;
    }
    clean_line(line, number == 1);
    check_line(line, name, number);
    return true;
}

void clean_line(std::string& line, bool first) {
    if (!line.empty() && line.back() == '\r') line.pop_back();                    // CRLF (Windows) endings
    if (first && line.rfind("\xEF\xBB\xBF", 0) == 0) line.erase(0, 3);             // a UTF-8 byte order mark
}

bool is_word_separator(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' || c == '\f'; }

Sentence split_words(const std::string& line) {
    Sentence words;
    std::size_t i = 0;
    auto space = [&](std::size_t k) { return is_word_separator(line[k]); };
    while (i < line.size()) {
        while (i < line.size() && space(i)) ++i;
        std::size_t j = i;
        while (j < line.size() && !space(j)) ++j;
        if (j > i) words.push_back(line.substr(i, j - i));
        i = j;
    }
    return words;
}

std::string join_words(const Sentence& words) {
    std::string s;
    for (const std::string& w : words) s += (s.empty() ? "" : " ") + w;
    return s;
}

SentencePair parse_pair(const std::string& line, const std::string& name, std::size_t n, bool* extra_columns) {
    const std::size_t tab = line.find('\t');
    if (tab == std::string::npos)
        throw FileError(fmt::format("{}:{}:{}: no tab: a line is 'source<TAB>target'", name, n, line.size() + 1));
    // Exports of Tatoeba and Anki add columns (attribution, ids): the first two are the pair.
    std::size_t end = line.find('\t', tab + 1);
    if (extra_columns) *extra_columns = end != std::string::npos;
    if (end == std::string::npos) end = line.size();
    SentencePair p{split_words(line.substr(0, tab)), split_words(line.substr(tab + 1, end - tab - 1))};
    if (p.source.empty()) throw FileError(fmt::format("{}:{}:1: the source side is empty", name, n));
    if (p.target.empty()) throw FileError(fmt::format("{}:{}:{}: the target side is empty", name, n, tab + 2));
    // What training accepts, its vocabulary file must hold: no token over the vocabulary's limit.
    for (const Sentence* side : {&p.source, &p.target})
        for (const std::string& w : *side)
            if (w.size() > Vocab::kMaxTokenBytes)
                throw FileError(fmt::format("{}:{}:{}: a word of {} bytes; the limit is {}", name, n,
                                            line.find(w, side == &p.source ? 0 : tab + 1) + 1, w.size(), Vocab::kMaxTokenBytes));
    return p;
}

std::vector<SentencePair> parse_parallel(const std::string& text, const std::string& name, std::size_t* extra_columns) {
    std::vector<SentencePair> pairs;
    std::size_t extra = 0;
    for_each_line(text, name, [&](std::size_t n, const std::string& line) {
        bool more = false;
        pairs.push_back(parse_pair(line, name, n, &more));
        extra += more;
    });
    if (pairs.empty()) throw FileError(fmt::format("{}: no sentence pairs (the file is empty)", name));
    if (extra_columns) *extra_columns = extra;
    return pairs;
}

std::vector<SentencePair> read_parallel(const std::filesystem::path& path, std::size_t* extra_columns) {
    return parse_parallel(read_text(path), path.string(), extra_columns);
}

Alignment parse_alignment(const std::string& line, const std::string& name, std::size_t n, const SentencePair* pair) {
    Alignment a;
    for (std::size_t i = 0; i < line.size();) {
        if (line[i] == ' ') {
            ++i;
            continue;
        }
        const std::size_t start = i;
        while (i < line.size() && line[i] != ' ') ++i;
        const std::string link = line.substr(start, i - start);
        const std::size_t dash = link.find('-');
        auto is_number = [](const std::string& s) {
            return !s.empty() && s.size() <= 6 && s.find_first_not_of("0123456789") == std::string::npos;
        };
        if (dash == std::string::npos || !is_number(link.substr(0, dash)) || !is_number(link.substr(dash + 1)))
            throw FileError(fmt::format("{}:{}:{}: '{}' is not a link 'i-j' of two indices", name, n, start + 1, link));
        const int s = std::stoi(link.substr(0, dash)), t = std::stoi(link.substr(dash + 1));
        if (pair && (static_cast<std::size_t>(s) >= pair->source.size() || static_cast<std::size_t>(t) >= pair->target.size()))
            throw FileError(fmt::format("{}:{}:{}: link {} is outside a pair of {} source and {} target words", name, n,
                                        start + 1, link, pair->source.size(), pair->target.size()));
        a.emplace_back(s, t);
    }
    return a;
}

std::vector<Alignment> parse_alignments(const std::string& text, const std::string& name,
                                        const std::vector<SentencePair>* pairs) {
    std::vector<Alignment> out;
    for_each_line(text, name, [&](std::size_t n, const std::string& line) {
        out.push_back(parse_alignment(line, name, n, pairs && out.size() < pairs->size() ? &(*pairs)[out.size()] : nullptr));
    });
    if (pairs && out.size() != pairs->size())
        throw FileError(fmt::format("{}: {} lines of alignments for {} sentence pairs", name, out.size(), pairs->size()));
    return out;
}

std::vector<Alignment> read_alignments(const std::filesystem::path& path, const std::vector<SentencePair>* pairs) {
    return parse_alignments(read_text(path), path.string(), pairs);
}

std::string format_alignment(const Alignment& a) {
    std::string s;
    for (const auto& [i, j] : a) s += fmt::format("{}{}-{}", s.empty() ? "" : " ", i, j);
    return s;
}

void write_parallel(const std::filesystem::path& path, const std::vector<SentencePair>& pairs) {
    std::string s;
    for (const SentencePair& p : pairs) s += join_words(p.source) + '\t' + join_words(p.target) + '\n';
    write_file_atomically(path, s);
}

void write_alignments(const std::filesystem::path& path, const std::vector<Alignment>& alignments) {
    std::string s;
    for (const Alignment& a : alignments) s += format_alignment(a) + '\n';
    write_file_atomically(path, s);
}

}  // namespace tg::text
