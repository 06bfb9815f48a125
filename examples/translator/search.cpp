#include "search.hpp"

#include <algorithm>

#include "autograd/ops.hpp"
#include "autograd/tape.hpp"

namespace translator {

using namespace tg;
using text::Vocab;

namespace {

// A hypothesis: its translation so far (words, attention rows, log-probability) and the decoder's
// state after it.
struct Hypothesis {
    Translation t;
    std::vector<Var> state;
};

// One decoding step of one hypothesis: the log-probabilities of every next word, and its new state and
// attention row.
struct Step {
    Tensor log_p;  // [1, V]
    TranslationModel::DecodeStep next;
};

Step step(const TranslationModel& model, const TranslationModel::Encoded& enc, const Hypothesis& h) {
    const std::int32_t prev = h.t.words.empty() ? Vocab::kBos : h.t.words.back();
    TranslationModel::DecodeStep next = model.decode_step(enc, h.state, std::span(&prev, 1));
    return {log_softmax(next.logits, 1).value(), std::move(next)};
}

// h extended by `word`, its log-probability log_p, and the step that chose it.
Hypothesis extend(const Hypothesis& h, std::int32_t word, float log_p, const Step& s, bool stop_at_eos) {
    Hypothesis out{h.t, s.next.state};
    out.t.score += log_p;
    if (s.next.weights.defined()) {
        const Tensor& w = s.next.weights.value();
        out.t.attention.cols = w.shape()[1];
        out.t.attention.values.insert(out.t.attention.values.end(), w.data(), w.data() + w.numel());
        ++out.t.attention.rows;
    }
    if (word == Vocab::kEos && stop_at_eos) out.t.finished = true;
    else out.t.words.push_back(word);
    return out;
}

TranslationModel::Encoded encode_one(const TranslationModel& model, const std::vector<std::int32_t>& source) {
    const std::vector<int> lengths{static_cast<int>(source.size())};
    return model.encode(source, 1, source.size(), lengths);
}

}  // namespace

Translation greedy_reference(const TranslationModel& model, const std::vector<std::int32_t>& source, const DecodeOptions& options) {
    NoGradGuard no_grad;
    const TranslationModel::Encoded enc = encode_one(model, source);
    const std::size_t limit = options.max_len ? options.max_len : default_max_len(source.size());
    Hypothesis h{{}, model.initial_state(enc)};
    for (std::size_t i = 0; i < limit && !h.t.finished; ++i) {
        const Step s = step(model, enc, h);
        const auto best = static_cast<std::int32_t>(std::max_element(s.log_p.data(), s.log_p.data() + s.log_p.numel()) - s.log_p.data());
        h = extend(h, best, s.log_p.data()[best], s, options.stop_at_eos);
    }
    return h.t;
}

// <doc:beam-search>
std::vector<Translation> beam_search_reference(const TranslationModel& model, const std::vector<std::int32_t>& source,
                                               std::size_t K, std::size_t n_best, const DecodeOptions& options) {
    NoGradGuard no_grad;
    const TranslationModel::Encoded enc = encode_one(model, source);
    const std::size_t limit = options.max_len ? options.max_len : default_max_len(source.size());
    std::vector<Hypothesis> live{{{}, model.initial_state(enc)}};
    std::vector<Translation> finished;
    for (std::size_t i = 0; i < limit && !live.empty() && finished.size() < K; ++i) {
        struct Continuation {
            double score;
            std::size_t hyp;
            std::int32_t word;
        };
        std::vector<Step> steps;
        std::vector<Continuation> all;  // every live hypothesis extended by every word
        for (std::size_t h = 0; h < live.size(); ++h) {
            steps.push_back(step(model, enc, live[h]));
            const Tensor& log_p = steps.back().log_p;
            for (std::size_t w = 0; w < log_p.numel(); ++w)
                all.push_back({live[h].t.score + log_p.data()[w], h, static_cast<std::int32_t>(w)});
        }
        // The K best; of equal scores, the earlier hypothesis, then the smaller word id.
        std::stable_sort(all.begin(), all.end(), [](const Continuation& a, const Continuation& b) { return a.score > b.score; });
        std::vector<Hypothesis> next;
        for (std::size_t c = 0; c < std::min(K, all.size()); ++c) {
            const Continuation& x = all[c];
            Hypothesis h = extend(live[x.hyp], x.word, steps[x.hyp].log_p.data()[x.word], steps[x.hyp], options.stop_at_eos);
            if (h.t.finished) finished.push_back(std::move(h.t));
            else next.push_back(std::move(h));
        }
        live = std::move(next);
    }
    for (Hypothesis& h : live) finished.push_back(std::move(h.t));  // cut by the length limit
    for (Translation& t : finished) t.ranked = ranking_score(t.score, t.words.size() + (t.finished ? 1 : 0), options.length_penalty);
    std::stable_sort(finished.begin(), finished.end(), [](const Translation& a, const Translation& b) { return a.ranked > b.ranked; });
    finished.resize(std::min(n_best, finished.size()));
    return finished;
}
// </doc:beam-search>

}  // namespace translator
