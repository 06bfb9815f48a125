#include "evaluate.hpp"

#include <algorithm>
#include <functional>
#include <optional>

#include "decode.hpp"

namespace translator {

using namespace tg;

double Scores::exact_match() const {
    return sentences ? static_cast<double>(exact) / static_cast<double>(sentences) : 0.0;
}


std::optional<std::vector<std::vector<std::int32_t>>> translate_all(const TranslationModel& model,
                                                                    const std::vector<text::EncodedPair>& data,
                                                                    std::size_t beam, const PackedWeight& packed_output,
                                                                    const std::function<bool()>& stop, double length_penalty) {
    std::vector<std::vector<std::int32_t>> out(data.size());
    // Batches of at most 64 sentences of similar lengths and 16,384 padded tokens (beam search: K rows
    // a sentence, so products K times taller): memory bounded whatever the lengths.
    // Longest first: the tape's arena reaches its peak with the first batches and later ones reuse
    // that memory, where shortest first grew it batch after batch into fresh pages (docs/performance.md).
    auto plan = text::plan_batches(data, 64, nullptr, kMaxBatchTokens);
    std::reverse(plan.begin(), plan.end());
    for (const auto& which : plan) {
        if (stop && stop()) return std::nullopt;
        std::vector<std::vector<std::int32_t>> sources;
        for (std::size_t i : which) sources.push_back(data[i].source);
        std::vector<Translation> t = beam > 1 ? beam_search(model, sources, beam, {.packed_output = &packed_output, .length_penalty = length_penalty})
                                              : greedy(model, sources, {.packed_output = &packed_output});
        for (std::size_t k = 0; k < which.size(); ++k) out[which[k]] = std::move(t[k].words);
    }
    return out;
}

text::Sentence bleu_tokens(const std::string& text, bool subwords) {
    return subwords ? text::tokenize_13a(text) : text::split_words(text);
}

Evaluator::Evaluator(const LoadedModel& m, bool with_gold, std::size_t beam, std::size_t bucket, bool want_alignments,
                     double length_penalty)
    : m_(m), beam_(beam), length_penalty_(length_penalty), want_alignments_(want_alignments), packed_output_(m.model->output_weight().value()) {
    e_.bucket = bucket;
    e_.detokenized = m.subwords();
    // Alignments are between words; a subword model attends over pieces (see --words of attention).
    e_.has_aer = with_gold && m.model->config.has_attention() && !m.subwords();
    if (e_.has_aer)
        for (const AttentionView& v : attention_heads(m.model->config)) e_.heads.push_back({v, {}});
}

const std::pair<AttentionView, text::AlignmentScore>* Evaluation::best_head() const {
    const std::pair<AttentionView, text::AlignmentScore>* best = nullptr;
    for (const auto& h : heads)
        if (!best || h.second.aer() < best->second.aer()) best = &h;
    return best;
}

Evaluator::Chunk Evaluator::add(const std::vector<text::SentencePair>& pairs, const std::vector<text::Alignment>* gold) {
    Chunk out;
    // What the model reads and writes: words, or pieces.
    const auto data = text::encode_pairs(to_units(pairs, m_.src_subwords.get(), m_.tgt_subwords.get()), m_.src_vocab, m_.tgt_vocab);
    const auto ids = *translate_all(*m_.model, data, beam_, packed_output_, {}, length_penalty_);
    const bool forced = (e_.has_aer || want_alignments_) && m_.model->config.has_attention() && !m_.subwords();
    // One forced pass reads the default view (the alignments) and, for AER per head, every head.
    std::vector<AttentionView> views{AttentionView{}};
    for (const auto& head : e_.heads) views.push_back(head.first);
    const std::vector<std::vector<viz::Matrix>> forced_views =
        forced ? forced_attention(*m_.model, data, views) : std::vector<std::vector<viz::Matrix>>(views.size());
    const std::vector<viz::Matrix>& attention = forced_views[0];
    std::vector<text::Alignment> links;  // read off the forced attention, for AER and --out-align alike
    for (std::size_t i = 0; forced && i < pairs.size(); ++i)
        links.push_back(alignment_from_attention(attention[i], pairs[i].source.size(), pairs[i].target.size()));
    for (std::size_t i = 0; i < pairs.size(); ++i) {
        // Word models: BLEU over the words as they are. Subword models: the pieces joined back into
        // text, scored against the raw reference with sacreBLEU's 13a tokenization.
        out.hyps.push_back(m_.target_text(ids[i]));
        const std::string reference = text::join_words(pairs[i].target);
        const text::Sentence hyp = bleu_tokens(out.hyps.back(), e_.detokenized), ref = bleu_tokens(reference, e_.detokenized);
        for (Scores* s : {&e_.all, &e_.by_length[(pairs[i].source.size() - 1) / e_.bucket]}) {
            ++s->sentences;
            s->exact += hyp == ref;
            s->bleu_stats.add(hyp, ref);
            s->chrf_stats.add(out.hyps.back(), reference);
            if (e_.has_aer) s->alignment.add(links[i], (*gold)[i]);
        }
    }
    for (std::size_t v = 1; v < views.size(); ++v) {  // each head alone, read off as the default view is
        const std::vector<viz::Matrix>& head = forced_views[v];
        for (std::size_t i = 0; i < pairs.size(); ++i)
            e_.heads[v - 1].second.add(alignment_from_attention(head[i], pairs[i].source.size(), pairs[i].target.size()), (*gold)[i]);
    }
    if (want_alignments_) out.alignments = std::move(links);
    return out;
}

Evaluation evaluate(const LoadedModel& m, const std::vector<text::SentencePair>& pairs,
                    const std::vector<text::Alignment>* gold, std::size_t beam, std::size_t bucket, bool want_alignments) {
    Evaluator evaluator(m, gold != nullptr, beam, bucket, want_alignments);
    Evaluator::Chunk all = evaluator.add(pairs, gold);
    Evaluation e = evaluator.result();
    e.hyps = std::move(all.hyps);
    e.alignments = std::move(all.alignments);
    return e;
}

}  // namespace translator
