#include "evaluate.hpp"

#include <algorithm>

#include "decode.hpp"

namespace translator {

using namespace tg;

double Scores::exact_match() const {
    return sentences ? static_cast<double>(exact) / static_cast<double>(sentences) : 0.0;
}

double Scores::bleu() const { return text::corpus_bleu(hyps, refs); }

namespace {

// Greedy or beam search in batches of similar lengths: target ids.
std::vector<std::vector<std::int32_t>> translate_all(const LoadedModel& m, const std::vector<text::EncodedPair>& data,
                                                     std::size_t beam) {
    std::vector<std::vector<std::int32_t>> out(data.size());
    const PackedWeight packed_output(m.model->output.weight.value());  // once for every batch
    // Batches of at most 64 sentences of similar lengths and 16,384 padded tokens (beam search: K rows
    // a sentence, so products K times taller): memory bounded whatever the lengths.
    // Longest first: the tape's arena reaches its peak with the first batches and later ones reuse
    // that memory, where shortest first grew it batch after batch into fresh pages (docs/performance.md).
    auto plan = text::plan_batches(data, 64, nullptr, kMaxBatchTokens);
    std::reverse(plan.begin(), plan.end());
    for (const auto& which : plan) {
        std::vector<std::vector<std::int32_t>> sources;
        for (std::size_t i : which) sources.push_back(data[i].source);
        std::vector<Translation> t = beam > 1 ? beam_search(*m.model, sources, beam, {.packed_output = &packed_output})
                                              : greedy(*m.model, sources, {.packed_output = &packed_output});
        for (std::size_t k = 0; k < which.size(); ++k) out[which[k]] = std::move(t[k].words);
    }
    return out;
}

}  // namespace

Evaluation evaluate(const LoadedModel& m, const std::vector<text::SentencePair>& pairs,
                    const std::vector<text::Alignment>* gold, std::size_t beam, std::size_t bucket, bool want_alignments) {
    Evaluation e;
    e.bucket = bucket;
    e.detokenized = m.subwords();
    // Alignments are between words; a subword model attends over pieces (see --words of attention).
    e.has_aer = gold != nullptr && m.model->attention != nullptr && !m.subwords();
    // What the model reads and writes: words, or pieces.
    const auto data = text::encode_pairs(to_units(pairs, m.src_subwords.get(), m.tgt_subwords.get()), m.src_vocab, m.tgt_vocab);
    const auto ids = translate_all(m, data, beam);
    const bool forced = (e.has_aer || want_alignments) && m.model->attention != nullptr && !m.subwords();
    const std::vector<viz::Matrix> attention = forced ? forced_attention(*m.model, data) : std::vector<viz::Matrix>{};
    std::vector<text::Alignment> links;  // read off the forced attention, for AER and --out-align alike
    for (std::size_t i = 0; forced && i < pairs.size(); ++i)
        links.push_back(alignment_from_attention(attention[i], pairs[i].source.size(), pairs[i].target.size()));
    if (want_alignments) e.alignments = links;
    for (std::size_t i = 0; i < pairs.size(); ++i) {
        // Word models: BLEU over the words as they are. Subword models: the pieces joined back into
        // text, scored against the raw reference with sacreBLEU's 13a tokenization.
        e.hyps.push_back(m.target_text(ids[i]));
        const text::Sentence hyp = e.detokenized ? text::tokenize_13a(e.hyps.back()) : m.tgt_vocab.decode(ids[i]);
        const text::Sentence ref = e.detokenized ? text::tokenize_13a(text::join_words(pairs[i].target)) : pairs[i].target;
        for (Scores* s : {&e.all, &e.by_length[(pairs[i].source.size() - 1) / bucket]}) {
            ++s->sentences;
            s->exact += hyp == ref;
            s->hyps.push_back(hyp);
            s->refs.push_back(ref);
            if (e.has_aer) s->alignment.add(links[i], (*gold)[i]);
        }
    }
    return e;
}

}  // namespace translator
