// The translator's checkpoint directory (docs/spec/model.md, "Files"):
//   <parameter name>.npy ...      the model, one float32 file per parameter
//   src.vocab, tgt.vocab          the vocabularies (of words, or of subword pieces)
//   src.spm, tgt.spm              the SentencePiece models, for a model trained with --subwords
//   config.txt                    the architecture and sizes (ModelConfig), read back by load_model
//   optimizer/, train_state.txt   what resuming needs (when this is also the latest state)
//   last/                         a newer training state than the best model above, if any
// A directory with only the .npy files and the two vocabularies loads too: the sizes are read
// from the parameters' shapes, and the model has the paper's attention when attention.* files are
// there (and a deep output layer when deep_output.* files are).
#pragma once
#include <filesystem>
#include <memory>

#include "io/checkpoint.hpp"
#include "model.hpp"
#include "subwords.hpp"
#include "text/vocab.hpp"

namespace translator {

struct LoadedModel {
    std::unique_ptr<TranslationModel> model;
    tg::text::Vocab src_vocab, tgt_vocab;
    std::shared_ptr<const Subwords> src_subwords, tgt_subwords;  // both or neither

    bool subwords() const { return src_subwords != nullptr; }
    // A source sentence as the model reads it: words, or pieces of a subword model (pairs: to_units).
    tg::text::Sentence source_units(const tg::text::Sentence& words) const;
    // A translation's target ids as text: words joined by spaces, or pieces joined back into text.
    std::string target_text(const std::vector<std::int32_t>& ids) const;
};

// Throws tg::FileError naming the file that is missing, malformed or inconsistent.
LoadedModel load_model(const std::filesystem::path& dir);

// Adds the model, vocabularies, subword models (when given) and config.txt to a checkpoint being written.
void add_model(tg::CheckpointWriter& w, const TranslationModel& model, const tg::text::Vocab& src, const tg::text::Vocab& tgt,
               const Subwords* src_subwords = nullptr, const Subwords* tgt_subwords = nullptr);

}  // namespace translator
