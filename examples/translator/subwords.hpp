// Subword units for real text: SentencePiece (Kudo & Richardson 2018; Debian's libsentencepiece),
// as every current NMT toolkit uses. A unigram model of N pieces per language is trained on the
// training file by `translator train --subwords N` and saved in the checkpoint (src.spm, tgt.spm);
// sentences are cut into pieces before the model sees them ("▁the ▁cat s ▁sleep s") and the pieces
// of a translation are joined back into ordinary text. A dependency of the translator only: the
// framework never sees it.
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "text/corpus.hpp"

namespace sentencepiece {
class SentencePieceProcessor;
}

namespace translator {

class Subwords {
public:
    static constexpr const char* kWordStart = "\xE2\x96\x81";  // U+2581, SentencePiece's mark of a word's start

    // Trains a model of about `pieces` pieces on `sentences` (fewer when the text has fewer).
    static Subwords train(const std::vector<std::string>& sentences, std::size_t pieces);
    // Loads a model saved with bytes(); `name` is used in errors (FileError).
    static Subwords load(const std::string& bytes, const std::string& name);

    const std::string& bytes() const { return bytes_; }
    tg::text::Sentence encode(const std::string& text) const;   // ordinary text -> pieces
    std::string decode(const tg::text::Sentence& pieces) const;  // pieces -> ordinary text

    // For each piece, the index of the word it belongs to: a piece that starts with U+2581 ("▁")
    // starts a word. Used to draw attention over words instead of pieces.
    static std::vector<std::size_t> word_of_piece(const tg::text::Sentence& pieces);

private:
    std::shared_ptr<sentencepiece::SentencePieceProcessor> sp_;
    std::string bytes_;
};

// Pairs as a model reads them: both sides cut into pieces when both models are given, else as they are.
std::vector<tg::text::SentencePair> to_units(std::vector<tg::text::SentencePair> pairs, const Subwords* src, const Subwords* tgt);

}  // namespace translator
