#include "text/vocab.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <map>
#include <sstream>

#include "io/files.hpp"
#include "text/corpus.hpp"

namespace tg::text {

namespace {
const char* const kSpecials[] = {"<pad>", "<unk>", "<s>", "</s>"};
}

Vocab::Vocab() {
    for (const char* s : kSpecials) add(s);
}

void Vocab::add(const std::string& word) {
    ids_.emplace(word, static_cast<std::int32_t>(words_.size()));
    words_.push_back(word);
}

Vocab Vocab::build(std::span<const Sentence> sentences, std::size_t min_count) {
    std::map<std::string, std::size_t> counts;
    for (const Sentence& s : sentences)
        for (const std::string& w : s) ++counts[w];
    std::vector<std::pair<std::string, std::size_t>> sorted(counts.begin(), counts.end());
    std::stable_sort(sorted.begin(), sorted.end(), [](const auto& a, const auto& b) { return a.second > b.second; });
    Vocab v;
    for (const auto& [word, n] : sorted)
        if (n >= min_count && !v.contains(word)) v.add(word);
    return v;
}

Vocab Vocab::load(const std::filesystem::path& path) { return parse(read_text(path), path.string()); }

Vocab Vocab::parse(const std::string& text, const std::string& name) {
    std::istringstream in(text);
    Vocab v;
    v.words_.clear();
    v.ids_.clear();
    std::string line;
    for (std::size_t n = 1; std::getline(in, line); ++n) {
        clean_line(line, n == 1);  // CRLF endings and a byte order mark, as every reader drops them
        if (n <= 4 && line != kSpecials[n - 1])
            throw FileError(fmt::format("{}:{}: expected '{}' (the first four lines are <pad> <unk> <s> </s>), found '{}'",
                                        name, n, kSpecials[n - 1], line.substr(0, 40)));
        if (line.empty() || std::any_of(line.begin(), line.end(), is_word_separator))
            throw FileError(fmt::format("{}:{}: a token must be non-empty and without white space", name, n));
        if (line.size() > kMaxTokenBytes)
            throw FileError(fmt::format("{}:{}: a token of {} bytes; the limit is {}", name, n, line.size(), kMaxTokenBytes));
        if (v.contains(line)) throw FileError(fmt::format("{}:{}: '{}' appears twice", name, n, line));
        v.add(line);
    }
    if (v.size() < 4) throw FileError(fmt::format("{}: has {} lines; a vocabulary starts with the four specials", name, v.size()));
    return v;
}

std::string Vocab::text() const {
    std::string s;
    for (const std::string& w : words_) s += w + '\n';
    return s;
}

std::int32_t Vocab::id(const std::string& word) const {
    auto it = ids_.find(word);
    return it == ids_.end() ? kUnk : it->second;
}

const std::string& Vocab::word(std::int32_t id) const {
    return id >= 0 && static_cast<std::size_t>(id) < words_.size() ? words_[static_cast<std::size_t>(id)] : words_[kUnk];
}

std::vector<std::int32_t> Vocab::encode(const Sentence& words, bool add_eos) const {
    std::vector<std::int32_t> ids;
    ids.reserve(words.size() + 1);
    for (const std::string& w : words) ids.push_back(id(w));
    if (add_eos) ids.push_back(kEos);
    return ids;
}

Sentence Vocab::decode(std::span<const std::int32_t> ids) const {
    Sentence out;
    for (std::int32_t i : ids) {
        if (i == kEos) break;
        if (i == kPad || i == kBos) continue;
        out.push_back(word(i));
    }
    return out;
}

}  // namespace tg::text
