#include "views.hpp"

#include "text/vocab.hpp"

#include <fmt/core.h>

#include <cstring>

namespace translator {

using namespace tg;

CheckedSource check_source(const LoadedModel& m, const text::Sentence& words, const SourceLimits& limits) {
    if (words.size() > limits.max_words) return {{}, fmt::format("{} words; the limit is {} (--max-words)", words.size(), limits.max_words)};
    for (std::size_t i = 0; i < words.size(); ++i)
        if (words[i].size() > text::Vocab::kMaxTokenBytes)
            return {{}, fmt::format("word {} is {} bytes; the limit is {}", i + 1, words[i].size(), text::Vocab::kMaxTokenBytes)};
    CheckedSource checked{m.source_units(words), ""};
    if (checked.units.size() > limits.max_pieces)
        checked.refused = fmt::format("{} words make {} pieces (the model's positions); the limit is {} (--max-pieces)", words.size(),
                                      checked.units.size(), limits.max_pieces);
    return checked;
}

std::vector<Translation> translate_one(const LoadedModel& m, const text::Sentence& units, std::size_t beam, std::size_t n,
                                       const DecodeOptions& options) {
    const std::vector<std::int32_t> ids = m.src_vocab.encode(units, true);
    if (beam > 1) return beam_search_n_best(*m.model, {ids}, beam, n, options)[0];
    return greedy(*m.model, {ids}, options);
}

std::vector<Translation> in_views(const LoadedModel& m, const text::Sentence& units, const Translation& t,
                                  const std::vector<AttentionView>& views) {
    const std::vector<text::EncodedPair> pair{{m.src_vocab.encode(units, true), t.words}};
    const std::vector<std::vector<viz::Matrix>> forced = forced_attention(*m.model, pair, views);
    std::vector<Translation> out(views.size(), t);
    for (std::size_t v = 0; v < views.size(); ++v) {
        if (views[v].is_default()) continue;  // what decoding saw
        viz::Matrix w = forced[v][0];
        if (!t.finished) {  // cut by the length limit: no row for </s>
            --w.rows;
            w.values.resize(w.rows * w.cols);
        }
        out[v].attention = std::move(w);
    }
    return out;
}

Translation in_view(const LoadedModel& m, const text::Sentence& units, Translation t, const AttentionView& view) {
    if (view.is_default()) return t;
    return std::move(in_views(m, units, t, {view})[0]);
}

Labelled labelled(const LoadedModel& m, const text::Sentence& units, const Translation& t, bool words) {
    Labelled l{t.attention, {}, {}};
    for (std::int32_t id : t.words) l.rows.push_back(m.tgt_vocab.word(id));
    if (t.finished) l.rows.push_back("</s>");
    for (const std::string& w : units) l.cols.push_back(m.src_vocab.contains(w) ? w : w + " (<unk>)");
    l.cols.push_back("</s>");
    if (!words || !m.subwords()) return l;
    auto group = [](const std::vector<std::string>& labels, std::size_t n) {  // piece -> word index, </s> its own
        std::vector<std::string> pieces(labels.begin(), labels.begin() + static_cast<std::ptrdiff_t>(std::min(n, labels.size())));
        std::vector<std::size_t> g = Subwords::word_of_piece(pieces);
        const std::size_t next = g.empty() ? 0 : g.back() + 1;
        for (std::size_t i = pieces.size(); i < labels.size(); ++i) g.push_back(next + (i - pieces.size()));
        return g;
    };
    auto merged_labels = [](const std::vector<std::string>& labels, const std::vector<std::size_t>& g) {
        std::vector<std::string> out;
        for (std::size_t i = 0; i < labels.size(); ++i) {
            std::string piece = labels[i];
            if (piece.rfind(Subwords::kWordStart, 0) == 0) piece.erase(0, std::strlen(Subwords::kWordStart));
            if (g[i] >= out.size()) out.push_back(piece);
            else out[g[i]] += piece;
        }
        return out;
    };
    const std::vector<std::size_t> gr = group(l.rows, t.words.size()), gc = group(l.cols, units.size());
    const std::vector<std::string> rows = merged_labels(l.rows, gr), cols = merged_labels(l.cols, gc);
    viz::Matrix w;
    w.rows = rows.size();
    w.cols = cols.size();
    w.values.assign(w.rows * w.cols, 0.0f);
    std::vector<float> pieces_in_row(w.rows, 0.0f);
    for (std::size_t r = 0; r < t.attention.rows && r < gr.size(); ++r) {
        pieces_in_row[gr[r]] += 1.0f;
        for (std::size_t c = 0; c < t.attention.cols && c < gc.size(); ++c) w.values[gr[r] * w.cols + gc[c]] += t.attention.at(r, c);
    }
    for (std::size_t r = 0; r < w.rows; ++r)
        for (std::size_t c = 0; c < w.cols; ++c) w.values[r * w.cols + c] /= std::max(pieces_in_row[r], 1.0f);
    return {w, rows, cols};
}

std::string alignment_text(const Labelled& words, bool soft) {
    const std::size_t sources = words.cols.size() - 1;  // the last column is the source's </s>
    std::size_t targets = words.rows.size();
    if (targets > 0 && words.rows.back() == "</s>") --targets;
    if (!soft) return text::format_alignment(alignment_from_attention(words.attention, sources, targets));
    std::string out;
    for (std::size_t t = 0; t < targets && t < words.attention.rows; ++t) {
        if (t) out += ' ';
        for (std::size_t j = 0; j < sources; ++j) out += fmt::format("{}{:.3f}", j ? "," : "", words.attention.at(t, j));
    }
    return out;
}

}  // namespace translator
