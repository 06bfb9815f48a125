// Vocab: words <-> ids. Ids 0-3 are the specials of both languages (<pad> <unk> <s> </s>); the
// file format is one token a line, id = line number (docs/spec/model.md).
#pragma once
#include <cstdint>
#include <filesystem>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

namespace tg::text {

using Sentence = std::vector<std::string>;

class Vocab {
public:
    static constexpr std::int32_t kPad = 0, kUnk = 1, kBos = 2, kEos = 3;
    static constexpr std::size_t kMaxTokenBytes = 1000;  // a longer word is refused by every reader

    Vocab();  // only the four specials

    // Words seen at least min_count times, most frequent first (ties alphabetically: deterministic).
    static Vocab build(std::span<const Sentence> sentences, std::size_t min_count = 1);
    // Throws tg::FileError naming the file and line of a problem (missing specials, duplicates).
    static Vocab load(const std::filesystem::path& path);
    static Vocab parse(const std::string& text, const std::string& name);  // the same, from the file's text
    std::string text() const;  // the file's contents

    std::size_t size() const { return words_.size(); }
    std::int32_t id(const std::string& word) const;  // kUnk for unknown words
    const std::string& word(std::int32_t id) const;  // "<unk>" for ids out of range
    bool contains(const std::string& word) const { return ids_.count(word) != 0; }

    std::vector<std::int32_t> encode(const Sentence& words, bool add_eos) const;
    // Stops at </s>; <pad> and <s> are skipped.
    Sentence decode(std::span<const std::int32_t> ids) const;

private:
    void add(const std::string& word);
    std::vector<std::string> words_;
    std::unordered_map<std::string, std::int32_t> ids_;
};

}  // namespace tg::text
