// A translation as people see it: the n best of one sentence, its attention as a chosen layer and head
// saw it, labelled with words (a subword model's pieces merged), and its alignment as Marian prints
// it. Shared by translate, attention and serve.
#pragma once
#include <string>
#include <vector>

#include "checkpoint.hpp"
#include "decode.hpp"

namespace translator {

// What a source is held to before it is decoded (translate, serve): decoding's time and memory grow
// with the square of the positions the model reads (its pieces, or its words), which a few long words
// can multiply: the pieces are counted, not only the words.
struct SourceLimits {
    std::size_t max_words = 100;
    std::size_t max_pieces = 512;
};
// The source as the model reads it (LoadedModel::source_units), or why it may not be decoded,
// naming the limit and its option ("word 2 is 60000 bytes; the limit is 1000", "5 words make 4500
// pieces (the model's positions); the limit is 512 (--max-pieces)"). Words and their bytes are
// checked before the words are cut into pieces.
struct CheckedSource {
    tg::text::Sentence units;
    std::string refused;  // empty: it may be decoded
};
CheckedSource check_source(const LoadedModel& m, const tg::text::Sentence& words, const SourceLimits& limits);

// `units`: the source as the model reads it (words, or subword pieces); the n best translations,
// best first (greedy decoding: its one). `options.packed_output`: the model's output weight packed
// once for all the sentences of a run.
std::vector<Translation> translate_one(const LoadedModel& m, const tg::text::Sentence& units, std::size_t beam, std::size_t n,
                                       const DecodeOptions& options);

// The translation's attention as `view` sees it: the model reads the translation as a reference
// (forced decoding gives exactly the weights decoding saw, for every layer and head).
Translation in_view(const LoadedModel& m, const tg::text::Sentence& units, Translation t, const AttentionView& view);
// The same for several views, from one forced pass: one Translation per view.
std::vector<Translation> in_views(const LoadedModel& m, const tg::text::Sentence& units, const Translation& t,
                                  const std::vector<AttentionView>& views);

// An attention matrix with its labels: rows are what was written (and </s>), columns what was read
// (and </s>); for a subword model, pieces, or with `words` the pieces merged into words: a word's
// columns are added up (the attention it received) and its rows averaged (each row still sums to 1).
struct Labelled {
    tg::viz::Matrix attention;
    std::vector<std::string> rows, cols;
};
Labelled labelled(const LoadedModel& m, const tg::text::Sentence& units, const Translation& t, bool words);

// A translation's alignment to its source as Marian prints it, in words (a subword model's pieces
// merged): hard, Pharaoh's "source-target" pairs, each target word linked to the source word it
// attended to most; soft, each target word's weights over the source words ("0.9,0.1 0.2,0.8").
// </s> is left out on both sides.
std::string alignment_text(const Labelled& words, bool soft);

}  // namespace translator
