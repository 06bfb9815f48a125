#include "subwords.hpp"

#include <fcntl.h>
#include <fmt/format.h>
#include <unistd.h>

#include <cstdio>
#include <sentencepiece_processor.h>
#include <sentencepiece_trainer.h>

#include <set>

#include "errors.hpp"
#include "io/files.hpp"

namespace translator {

namespace {

// The training sentences, handed to SentencePiece without a temporary file.
class Sentences : public sentencepiece::SentenceIterator {
public:
    explicit Sentences(const std::vector<std::string>& s) : s_(s) {}
    bool done() const override { return i_ >= s_.size(); }
    void Next() override { ++i_; }
    const std::string& value() const override { return s_[i_]; }
    sentencepiece::util::Status status() const override { return {}; }

private:
    const std::vector<std::string>& s_;
    std::size_t i_ = 0;
};

}  // namespace

Subwords Subwords::train(const std::vector<std::string>& sentences, std::size_t pieces) {
    if (sentences.empty()) throw UsageError("--subwords: no sentences to learn pieces from");
    // Every character is a piece of its own (character coverage 1), and so are the word-start mark and
    // <unk>: fewer pieces than that cannot be learnt. Said in the option's words, before SentencePiece
    // would say it in its own (naming an option the translator does not have).
    std::set<std::string> characters;
    for (const std::string& line : sentences)
        for (std::size_t i = 0; i < line.size();) {
            std::size_t n = 1;
            while (i + n < line.size() && (static_cast<unsigned char>(line[i + n]) & 0xC0) == 0x80) ++n;
            if (line[i] != ' ') characters.insert(line.substr(i, n));
            i += n;
        }
    if (pieces < characters.size() + 2)
        throw UsageError(fmt::format("--subwords {}: too few pieces: the training file has {} distinct characters, each a piece "
                                     "of its own, plus the word-start mark and <unk>; give at least {}", pieces,
                                     characters.size(), characters.size() + 2));
    // Unigram model; every character kept (no <unk> for a rare letter); no <s> or </s> of its own
    // (the translator adds its own); a vocabulary size that is a target, not a demand, so that a
    // small corpus gets fewer pieces instead of an error; quiet.
    const std::string options = fmt::format(
        "--model_type=unigram --vocab_size={} --character_coverage=1.0 --hard_vocab_limit=false "
        "--bos_id=-1 --eos_id=-1 --unk_id=0 --num_threads=2 --input_sentence_size=200000 "
        "--shuffle_input_sentence=true --minloglevel=2 --max_sentence_length=20000",
        pieces);
    Sentences it(sentences);
    Subwords s;
    // SentencePiece logs its command line to stderr before it reads --minloglevel: silenced here
    // (its errors come back in the status, and are reported below).
    std::fflush(stderr);
    const int saved_stderr = ::dup(STDERR_FILENO), null = ::open("/dev/null", O_WRONLY | O_CLOEXEC);
    if (saved_stderr >= 0 && null >= 0) ::dup2(null, STDERR_FILENO);
    const auto status = sentencepiece::SentencePieceTrainer::Train(options, &it, &s.bytes_);
    if (saved_stderr >= 0 && null >= 0) ::dup2(saved_stderr, STDERR_FILENO);
    if (saved_stderr >= 0) ::close(saved_stderr);
    if (null >= 0) ::close(null);
    if (!status.ok()) throw tg::FileError(fmt::format("SentencePiece could not learn {} pieces: {}", pieces, status.ToString()));
    return load(s.bytes_, "the new subword model");
}

Subwords Subwords::load(const std::string& bytes, const std::string& name) {
    Subwords s;
    s.sp_ = std::make_shared<sentencepiece::SentencePieceProcessor>();
    const auto status = s.sp_->LoadFromSerializedProto(bytes);
    if (!status.ok()) throw tg::FileError(fmt::format("{}: not a SentencePiece model: {}", name, status.ToString()));
    s.bytes_ = bytes;
    return s;
}

tg::text::Sentence Subwords::encode(const std::string& text) const {
    std::vector<std::string> pieces;
    const auto status = sp_->Encode(text, &pieces);
    if (!status.ok()) throw tg::FileError(fmt::format("SentencePiece: {}", status.ToString()));
    return pieces;
}

std::string Subwords::decode(const tg::text::Sentence& pieces) const {
    std::string text;
    const auto status = sp_->Decode(pieces, &text);
    if (!status.ok()) throw tg::FileError(fmt::format("SentencePiece: {}", status.ToString()));
    return text;
}

std::vector<tg::text::SentencePair> to_units(std::vector<tg::text::SentencePair> pairs, const Subwords* src,
                                             const Subwords* tgt) {
    if (src && tgt)
        for (auto& p : pairs) p = {src->encode(tg::text::join_words(p.source)), tgt->encode(tg::text::join_words(p.target))};
    return pairs;
}

std::vector<std::size_t> Subwords::word_of_piece(const tg::text::Sentence& pieces) {
    std::vector<std::size_t> word;
    std::size_t w = 0;
    for (std::size_t i = 0; i < pieces.size(); ++i) {
        if (i > 0 && pieces[i].rfind(kWordStart, 0) == 0) ++w;
        word.push_back(w);
    }
    return word;
}

}  // namespace translator
