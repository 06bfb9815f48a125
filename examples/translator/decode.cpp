#include "decode.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <optional>

#include "autograd/ops.hpp"
#include "autograd/tape.hpp"
#include "kernels/rows.hpp"
#include "text/vocab.hpp"

namespace translator {

using namespace tg;
using text::Vocab;

namespace {

// Sources padded into one [B, S] batch of ids, with their lengths: what the encoder reads.
struct Sources {
    std::size_t size = 0, len = 0;  // B, S
    std::vector<std::int32_t> ids;  // [B, S]
    std::vector<int> lengths;       // [B]
};
Sources pad_sources(const std::vector<std::vector<std::int32_t>>& sources) {
    Sources s;
    s.size = sources.size();
    for (const auto& src : sources) s.len = std::max(s.len, src.size());
    s.ids.assign(s.size * s.len, Vocab::kPad);
    s.lengths.reserve(s.size);
    for (std::size_t b = 0; b < s.size; ++b) {
        std::copy(sources[b].begin(), sources[b].end(), s.ids.begin() + static_cast<std::ptrdiff_t>(b * s.len));
        s.lengths.push_back(static_cast<int>(sources[b].size()));
    }
    return s;
}

// Keeps the first `cols` columns of each row, in place.
void keep_columns(viz::Matrix& m, std::size_t cols) {
    for (std::size_t r = 0; r < m.rows; ++r)
        std::copy_n(m.values.data() + r * m.cols, cols, m.values.data() + r * cols);
    m.values.resize(m.rows * cols);
    m.cols = cols;
}

void append_row(viz::Matrix& m, const float* row, std::size_t cols) {
    m.cols = cols;
    m.values.insert(m.values.end(), row, row + cols);
    ++m.rows;
}

// Every row of x [B, ...] repeated k times in place: [B*k, ...], rows b*k .. b*k+k-1 equal to row b.
Var repeat_rows(const Var& x, std::size_t k) {
    if (!x.defined() || k == 1) return x;
    std::vector<std::int32_t> ids(x.shape()[0] * k);
    for (std::size_t r = 0; r < ids.size(); ++r) ids[r] = static_cast<std::int32_t>(r / k);
    return index_select(x, 0, ids);
}

// Blocks of `block` rows (along axis 0) of t, the blocks `which` in order, into `out`.
void keep_row_blocks(const Tensor& t, const std::vector<std::int32_t>& which, std::size_t block, Tensor& out) {
    const std::size_t width = t.shape()[0] ? t.numel() / t.shape()[0] * block : 0;
    out.resize(t.shape().with(0, which.size() * block));
    for (std::size_t p = 0; p < which.size(); ++p)
        std::copy_n(t.data() + static_cast<std::size_t>(which[p]) * width, width, out.data() + p * width);
}

// A decoder state's tensors (rows first) copied out of the tape, into `into`, reusing its memory.
void copy_out(std::span<const Var> from, std::vector<Tensor>& into) {
    into.resize(from.size());
    for (std::size_t k = 0; k < from.size(); ++k) {
        into[k].resize(from[k].shape());
        std::copy_n(from[k].value().data(), into[k].numel(), into[k].data());
    }
}

// The state as constants on the tape, into `out` (its capacity reused from step to step).
std::vector<Var>& constants(const std::vector<Tensor>& state, std::vector<Var>& out) {
    out.clear();
    for (const Tensor& t : state) out.push_back(constant(t));
    return out;
}

// The sentences still being decoded, so that a step computes only their rows: position p of the
// batch holds sentence at[p], its rows p*K .. p*K+K-1 of the decoder's state and previous words (K
// hypotheses a sentence in beam search, 1 in greedy decoding).
struct DecodingBatch {
    DecodingBatch(const TranslationModel::Encoded& encoded, std::size_t sentences, std::size_t rows_per_sentence)
        : enc(encoded), at(sentences), K(rows_per_sentence) {
        for (std::size_t b = 0; b < sentences; ++b) at[b] = b;
    }

    // After a step, `kept` lists the positions still being decoded. Once a quarter of the rows are
    // finished sentences' (each drop copies the others' encoder results, so not after every sentence
    // that ends), or none is left, they are dropped, and `state` and `prev` follow.
    void keep(const std::vector<std::int32_t>& kept, std::vector<Tensor>& state, std::vector<std::int32_t>& prev) {
        if (kept.size() == at.size() || (!kept.empty() && kept.size() * 4 > at.size() * 3)) return;
        if (!kept.empty()) {
            keep_encoded(kept);
            for (Tensor& t : state) {
                Tensor kept_rows;
                keep_row_blocks(t, kept, K, kept_rows);
                t = std::move(kept_rows);
            }
        }
        for (std::size_t q = 0; q < kept.size(); ++q) {
            const auto from = static_cast<std::size_t>(kept[q]);
            at[q] = at[from];
            std::copy_n(prev.begin() + static_cast<std::ptrdiff_t>(from * K), K, prev.begin() + static_cast<std::ptrdiff_t>(q * K));
        }
        at.resize(kept.size());
        prev.resize(kept.size() * K);
    }

    TranslationModel::Encoded enc;  // the encoder's results of the sentences at[0..]
    std::vector<std::size_t> at;    // the sentence at each position

private:
    // The kept sentences' encoder results are copied out of the tape, the scope of the previous copy
    // closed and a new one opened, and they are copied back in: however often sentences are dropped,
    // one such copy is in memory beside the encoder's own (in the caller's scope).
    void keep_encoded(const std::vector<std::int32_t>& kept) {
        // A memory's values and keys are often the annotations themselves, or each other: one copy kept then.
        auto same = [](const Var& a, const Var& b) { return a.defined() && b.defined() && &a.node() == &b.node(); };
        struct Kept {
            Tensor values, keys, valid;
            bool values_are_annotations, keys_are_values;
        };
        std::vector<Kept> memories(enc.memories.size());
        Tensor annotations, fixed;
        keep_row_blocks(enc.annotations.value(), kept, 1, annotations);
        for (std::size_t m = 0; m < memories.size(); ++m) {
            const Attention::Memory& from = enc.memories[m];
            Kept& k = memories[m];
            k.values_are_annotations = same(from.values, enc.annotations);
            k.keys_are_values = same(from.keys, from.values);
            if (!k.values_are_annotations) keep_row_blocks(from.values.value(), kept, 1, k.values);
            if (!k.keys_are_values) keep_row_blocks(from.keys.value(), kept, 1, k.keys);
            keep_row_blocks(from.valid.value(), kept, 1, k.valid);
        }
        if (enc.fixed.defined()) keep_row_blocks(enc.fixed.value(), kept, K, fixed);
        scope_.reset();
        scope_.emplace();
        enc.batch = kept.size();
        enc.annotations = constant(annotations);
        for (std::size_t m = 0; m < memories.size(); ++m) {
            Attention::Memory& to = enc.memories[m];
            to.values = memories[m].values_are_annotations ? enc.annotations : constant(memories[m].values);
            to.keys = memories[m].keys_are_values ? to.values : constant(memories[m].keys);
            to.valid = constant(memories[m].valid);
        }
        if (enc.fixed.defined()) enc.fixed = constant(fixed);
        enc.initial = Var();  // decoding has started from it
    }

    std::size_t K;
    std::optional<InferenceMode> scope_;  // holds enc once sentences have been dropped
};

// The rows a sentence's K hypotheses start from. The attention's keys and annotations stay one per
// sentence: attention reads them for all K queries of a sentence (Attention::forward).
TranslationModel::Encoded repeat_rows(const TranslationModel::Encoded& e, std::size_t k) {
    TranslationModel::Encoded r = e;
    r.initial = repeat_rows(e.initial, k);
    r.fixed = repeat_rows(e.fixed, k);
    return r;
}

// The k most likely words of one row of logits, best first, as (log-probability, word); ties go to the
// smaller id. The k largest logits are the k most likely words: the log-probability is the logit minus
// the row's log-sum-exp, the same for all (shifted by the largest, the first of them).
void top_k_log_probs(const float* row, std::size_t n, std::size_t k, std::vector<std::pair<float, std::int32_t>>& out) {
    top_k({row, n}, k, out);
    if (out.empty()) return;
    const float log_z = log_sum_exp({row, n}, out.front().first);
    for (auto& [value, word] : out) value -= log_z;
}

// The output weight to decode with: the caller's packed one, or one packed here and kept in `own`.
const PackedWeight& output_weight_for(const TranslationModel& model, const DecodeOptions& options,
                                      std::optional<PackedWeight>& own) {
    return options.packed_output ? *options.packed_output : own.emplace(model.output_weight().value());
}

}  // namespace

std::size_t default_max_len(std::size_t source_len) { return 2 * source_len + 10; }

std::vector<Translation> greedy(const TranslationModel& model, const std::vector<std::vector<std::int32_t>>& sources,
                                const DecodeOptions& options) {
    std::size_t max_len = options.max_len;
    InferenceMode inference;  // nothing recorded, and every value made here is released on return
    const PackedWeightsScope packed(model.parameters());  // each weight packed once for all the steps
    const Sources batch = pad_sources(sources);
    const std::size_t B = batch.size, S = batch.len;
    // Each sentence's own length limit, never the batch's: a translation must not depend on what
    // else is in the batch (or the file).
    std::vector<std::size_t> limit(B, max_len);
    if (max_len == 0)
        for (std::size_t b = 0; b < B; ++b) {
            limit[b] = default_max_len(static_cast<std::size_t>(batch.lengths[b]));
            max_len = std::max(max_len, limit[b]);
        }
    const TranslationModel::Encoded enc = model.encode(batch.ids, B, S, batch.lengths);
    std::optional<PackedWeight> own;
    const PackedWeight& output_weight = output_weight_for(model, options, own);  // packed once, read every step
    std::vector<Translation> out(B);
    for (std::size_t b = 0; b < B; ++b) {  // room for the longest output up front: no reallocation per word
        out[b].words.reserve(limit[b]);
        if (model.config.has_attention()) out[b].attention.values.reserve(limit[b] * S);
    }
    DecodingBatch decoding(enc, B, 1);  // finished sentences are dropped from it
    std::vector<std::int32_t> prev(B, Vocab::kBos);
    std::vector<Tensor> state;  // the decoder's state (s_{i-1}; the Transformer's caches), from one step's scope to the next
    copy_out(model.initial_state(enc), state);
    std::vector<Var> vars;      // the state on the tape, during a step
    std::vector<std::int32_t> kept;  // the positions still being decoded after a step
    kept.reserve(B);
    const std::vector<std::size_t>& at = decoding.at;
    for (std::size_t i = 0; i < max_len && !at.empty(); ++i) {
        if (options.cancelled && options.cancelled()) throw DecodeCancelled();
        kept.clear();
        {
            InferenceMode step_scope;  // a step's values are released at its end: memory of one step, any length
            TranslationModel::DecodeStep st = model.decode_step(decoding.enc, std::move(constants(state, vars)), prev, &output_weight);
            copy_out(st.state, state);
            vars = std::move(st.state);
            const Tensor& logits = st.logits.value();
            const std::size_t V = logits.shape()[1];
            for (std::size_t p = 0; p < at.size(); ++p) {
                Translation& t = out[at[p]];
                if (t.finished || i >= limit[at[p]]) continue;  // waiting to be dropped
                const float* row = logits.data() + p * V;
                const auto best = static_cast<std::int32_t>(argmax({row, V}));
                t.score += row[best] - log_sum_exp({row, V}, row[best]);  // log-probability of the choice
                if (st.weights.defined()) append_row(t.attention, st.weights.value().data() + p * S, S);
                prev[p] = best;
                if (best == Vocab::kEos && options.stop_at_eos) t.finished = true;
                else t.words.push_back(best);
                if (!t.finished && i + 1 < limit[at[p]]) kept.push_back(static_cast<std::int32_t>(p));
            }
        }
        decoding.keep(kept, state, prev);  // a finished sentence left in the batch is decoded on, its words ignored
    }
    for (std::size_t b = 0; b < B; ++b)  // drop the padding columns of shorter sources
        if (out[b].attention.rows) keep_columns(out[b].attention, static_cast<std::size_t>(batch.lengths[b]));
    return out;
}

double ranking_score(double log_prob, std::size_t length, double length_penalty) {
    const double n = static_cast<double>(std::max<std::size_t>(length, 1));
    if (length_penalty < 0) return log_prob / n;
    return log_prob / std::pow((5.0 + n) / 6.0, length_penalty);  // GNMT's lp(y)
}

namespace {

// Beam search's bookkeeping for one sentence. A hypothesis is its last step in the sentence's
// history, a tree of the words chosen (each node its word, the hypothesis it extended, and the
// attention that chose it): extending one costs a node, not a copy of its words and attention so far.
// The translations are read off at the end.
struct Hyp {
    double score = 0.0;
    std::size_t row = 0;      // its state's row among its sentence's K
    std::int32_t last = -1;   // its last node in the history (-1: <s> alone)
    std::size_t words = 0;    // words so far (</s> not counted)
    bool finished = false;    // ended with </s>
};
struct Node {
    std::int32_t parent, word;
};
struct BeamSentence {
    std::vector<Hyp> live{1}, next, finished;
    std::vector<Node> history;
    std::vector<float> attention;  // the attention row of each node, S floats each (a model that attends)
    std::size_t limit = 0;
    bool done = false;
};
struct Candidate {
    double score;
    std::size_t hyp;
    std::int32_t word;
};

// The order of candidates: higher score first; ties go to the earlier hypothesis, then the smaller id.
bool better(const Candidate& a, const Candidate& b) {
    if (a.score != b.score) return a.score > b.score;
    return a.hyp != b.hyp ? a.hyp < b.hyp : a.word < b.word;
}

// One step of one sentence: its live hypotheses' rows of the step's log-probabilities (logits, R rows
// a sentence from `first_row`) and attention weights, to the K best continuations. Each hypothesis's K
// best words first (only those can be among the K best overall), then the K best of those K x K; one
// ending in </s> is finished. `parents` gets each new live hypothesis's parent row.
void extend(BeamSentence& s, const Tensor& logits, const Var& weights, std::size_t first_row, std::size_t K, std::size_t S,
            bool stop_at_eos, std::vector<std::size_t>& parents, std::vector<Candidate>& cands,
            std::vector<std::pair<float, std::int32_t>>& best_words) {
    const std::size_t V = logits.shape()[1];
    cands.clear();
    for (std::size_t h = 0; h < s.live.size(); ++h) {
        top_k_log_probs(logits.data() + (first_row + s.live[h].row) * V, V, K, best_words);
        for (const auto& [log_p, word] : best_words) cands.push_back({s.live[h].score + log_p, h, word});
    }
    const std::size_t keep = std::min(K, cands.size());
    std::partial_sort(cands.begin(), cands.begin() + static_cast<std::ptrdiff_t>(keep), cands.end(), better);
    s.next.clear();
    parents.clear();
    for (std::size_t c = 0; c < keep; ++c) {
        Hyp h = s.live[cands[c].hyp];
        h.score = cands[c].score;
        s.history.push_back({h.last, cands[c].word});
        h.last = static_cast<std::int32_t>(s.history.size() - 1);
        if (weights.defined()) {
            const float* row = weights.value().data() + (first_row + h.row) * S;
            s.attention.insert(s.attention.end(), row, row + S);
        }
        if (cands[c].word == Vocab::kEos && stop_at_eos) {
            h.finished = true;
            s.finished.push_back(h);
            continue;
        }
        ++h.words;
        parents.push_back(h.row);
        h.row = s.next.size();
        s.next.push_back(h);
    }
    std::swap(s.live, s.next);
}

// The n best of a finished sentence, read off its history: best first by the ranking score; of equal
// ranks, the one that finished first. Attention columns beyond the source's length (padding) dropped.
std::vector<Translation> read_off(const BeamSentence& s, std::size_t n_best, std::size_t S, std::size_t source_len,
                                  double length_penalty) {
    std::vector<std::pair<double, const Hyp*>> ranked;
    for (const Hyp& h : s.finished) ranked.push_back({ranking_score(h.score, h.words + (h.finished ? 1 : 0), length_penalty), &h});
    std::stable_sort(ranked.begin(), ranked.end(), [](const auto& x, const auto& y) { return x.first > y.first; });
    std::vector<Translation> out;
    for (std::size_t k = 0; k < n_best && k < ranked.size(); ++k) {
        const Hyp& h = *ranked[k].second;
        Translation t;  // from the last node back to <s>
        t.score = h.score;
        t.ranked = ranked[k].first;
        t.finished = h.finished;
        std::vector<std::int32_t> nodes;
        for (std::int32_t n = h.last; n >= 0; n = s.history[static_cast<std::size_t>(n)].parent) nodes.push_back(n);
        std::reverse(nodes.begin(), nodes.end());
        for (const std::int32_t n : nodes) {
            const auto node = static_cast<std::size_t>(n);
            if (!(h.finished && n == h.last)) t.words.push_back(s.history[node].word);  // (not the final </s>)
            if (!s.attention.empty()) append_row(t.attention, s.attention.data() + node * S, S);
        }
        if (t.attention.rows) keep_columns(t.attention, source_len);
        out.push_back(std::move(t));
    }
    return out;
}

}  // namespace

// The search of search.cpp's beam_search_reference, batched: rows b*K .. b*K+K-1 of the decoder's
// state hold sentence b's live hypotheses, which attend to the sentence's one copy of the annotations;
// the first step has one hypothesis a sentence (<s>), so it runs on B rows, not B*K copies of them.
std::vector<std::vector<Translation>> beam_search_n_best(const TranslationModel& model,
                                                         const std::vector<std::vector<std::int32_t>>& sources,
                                                         std::size_t beam, std::size_t n_best, const DecodeOptions& options) {
    if (n_best < 1 || n_best > std::max<std::size_t>(beam, 1))
        throw Error(fmt::format("beam search: {} best of a beam of {}: n must be between 1 and the beam's width", n_best, beam));
    InferenceMode inference;  // nothing recorded, and every value made here is released on return
    const PackedWeightsScope packed(model.parameters());  // each weight packed once for all the steps
    const std::size_t K = std::max<std::size_t>(beam, 1), B = sources.size();
    const Sources batch = pad_sources(sources);
    const std::size_t S = batch.len;
    const TranslationModel::Encoded first = model.encode(batch.ids, B, S, batch.lengths);
    std::optional<PackedWeight> own;
    const PackedWeight& output_weight = output_weight_for(model, options, own);  // packed once, read every step
    std::vector<BeamSentence> sent(B);
    std::size_t longest = 0;
    for (std::size_t b = 0; b < B; ++b) {  // each sentence's own length limit, as in greedy()
        sent[b].limit = options.max_len ? options.max_len : default_max_len(sources[b].size());
        longest = std::max(longest, sent[b].limit);
    }
    std::vector<Tensor> state;  // rows [B*K, ...], carried from one step's scope to the next
    copy_out(model.initial_state(first), state);
    std::vector<Var> vars;      // the state on the tape, during a step
    std::vector<std::int32_t> prev(B, Vocab::kBos);
    std::vector<Candidate> cands;
    std::vector<std::pair<float, std::int32_t>> best_words;
    std::vector<std::size_t> parents;  // for each new hypothesis of a sentence, its parent's state row
    DecodingBatch decoding(repeat_rows(first, K), B, K);  // finished sentences are dropped from it, their K rows each
    const std::vector<std::size_t>& at = decoding.at;
    std::vector<std::int32_t> kept;  // the positions still being decoded after a step
    kept.reserve(B);
    for (std::size_t i = 0; i < longest && !at.empty(); ++i) {
        if (options.cancelled && options.cancelled()) throw DecodeCancelled();
        kept.clear();
        const std::size_t R = i == 0 ? 1 : K;  // the rows of a sentence in this step's logits and weights
        {
            InferenceMode step_scope;  // a step's values are released at its end
            TranslationModel::DecodeStep st =
                model.decode_step(i == 0 ? first : decoding.enc, std::move(constants(state, vars)), prev, &output_weight);
            if (R != K) {  // from the second step on, K rows a sentence: this step's one row each, K times
                for (Var& v : st.state) v = repeat_rows(v, K);
                prev.resize(at.size() * K);
            }
            // The next state over the buffers the constants came from (in cache): sentence p's row h from
            // its new hypothesis h's parent; rows no hypothesis uses (fewer than K live, done) from themselves.
            state.resize(st.state.size());
            for (std::size_t k = 0; k < state.size(); ++k) state[k].resize(st.state[k].shape());
            auto take_rows = [&](std::size_t p, std::span<const std::size_t> parents) {
                for (std::size_t k = 0; k < state.size(); ++k) {
                    const std::size_t width = state[k].numel() / state[k].shape()[0];
                    for (std::size_t h = 0; h < K; ++h)
                        std::copy_n(st.state[k].value().data() + (p * K + (h < parents.size() ? parents[h] : h)) * width,
                                    width, state[k].data() + (p * K + h) * width);
                }
            };
            for (std::size_t p = 0; p < at.size(); ++p) {
                BeamSentence& s = sent[at[p]];
                if (!s.done) extend(s, st.logits.value(), st.weights, p * R, K, S, options.stop_at_eos, parents, cands, best_words);
                if (!s.done && (s.finished.size() >= K || s.live.empty() || i + 1 >= s.limit)) {
                    s.done = true;
                    for (Hyp& h : s.live) s.finished.push_back(h);  // cut by the length limit
                    s.live.clear();
                }
                if (s.done) {  // waiting to be dropped
                    take_rows(p, {});
                    continue;
                }
                kept.push_back(static_cast<std::int32_t>(p));
                take_rows(p, parents);
                for (std::size_t h = 0; h < K; ++h)
                    prev[p * K + h] = h < s.live.size() ? s.history[static_cast<std::size_t>(s.live[h].last)].word : Vocab::kBos;
            }
            vars = std::move(st.state);
        }
        decoding.keep(kept, state, prev);
    }
    std::vector<std::vector<Translation>> out(B);
    for (std::size_t b = 0; b < B; ++b) out[b] = read_off(sent[b], n_best, S, sources[b].size(), options.length_penalty);
    return out;
}

std::vector<Translation> beam_search(const TranslationModel& model, const std::vector<std::vector<std::int32_t>>& sources,
                                     std::size_t beam, const DecodeOptions& options) {
    std::vector<Translation> out;
    for (std::vector<Translation>& best : beam_search_n_best(model, sources, beam, 1, options)) out.push_back(std::move(best[0]));
    return out;
}

Translation beam_search(const TranslationModel& model, const std::vector<std::int32_t>& source, std::size_t beam,
                        const DecodeOptions& options) {
    return beam_search(model, std::vector<std::vector<std::int32_t>>{source}, beam, options)[0];
}

std::vector<AttentionView> attention_heads(const ModelConfig& config) {
    std::vector<AttentionView> views;
    if (!config.is_transformer()) return views;
    for (std::size_t l = 0; l < config.layers; ++l)
        for (std::size_t h = 0; h < config.heads; ++h) views.push_back({static_cast<int>(l), static_cast<int>(h)});
    return views;
}

std::vector<std::vector<viz::Matrix>> forced_attention(const TranslationModel& model, const std::vector<text::EncodedPair>& pairs,
                                                       const std::vector<AttentionView>& views) {
    std::vector<std::vector<viz::Matrix>> out(views.size(), std::vector<viz::Matrix>(pairs.size()));
    const ModelConfig& c = model.config;
    for (const AttentionView& view : views) {
        if (view.is_default()) continue;
        if (!c.is_transformer()) throw Error("attention: --layer and --head choose among the Transformer's attentions; this model has one");
        if (view.layer >= static_cast<int>(c.layers) || view.layer < -1 || view.head >= static_cast<int>(c.heads) || view.head < -1)
            throw Error(fmt::format("attention: layer {} head {}: the model has layers 1-{} and heads 1-{}", view.layer + 1,
                                    view.head + 1, c.layers, c.heads));
    }
    if (!c.has_attention()) return out;
    constexpr std::size_t kChunk = 64;
    for (std::size_t start = 0, end = 0; start < pairs.size(); start = end) {
        InferenceMode inference;  // a chunk's values are released at its end
        // Up to 64 pairs in file order, fewer when long ones would pass kMaxBatchTokens.
        std::vector<std::size_t> which;
        for (end = start; end < pairs.size() && which.size() < kChunk; ++end) {
            which.push_back(end);
            if (which.size() > 1 && text::padded_tokens(pairs, which) > kMaxBatchTokens) {
                which.pop_back();
                break;
            }
        }
        const text::Batch batch = text::make_batch(pairs, which);
        const TranslationModel::Forward f = model.forward(batch);  // one pass serves every view
        for (std::size_t v = 0; v < views.size(); ++v) {
            const AttentionView& view = views[v];
            Var chosen = f.weights;  // [B, T, S]
            if (!view.is_default()) {  // a layer's heads [B, h, T, S]: their mean, or one
                const Var& heads = f.layer_weights[view.layer < 0 ? f.layer_weights.size() - 1 : static_cast<std::size_t>(view.layer)];
                chosen = view.head < 0 ? mean(heads, 1) : select(heads, 1, static_cast<std::size_t>(view.head));
            }
            const Tensor& w = chosen.value();  // [B, T, S]
            for (std::size_t k = 0; k < batch.size; ++k) {
                const std::size_t rows = pairs[which[k]].target.size() + 1, cols = pairs[which[k]].source.size();
                for (std::size_t t = 0; t < rows; ++t)
                    append_row(out[v][which[k]], w.data() + (k * batch.tgt_len + t) * batch.src_len, cols);
            }
        }
    }
    return out;
}

std::vector<viz::Matrix> forced_attention(const TranslationModel& model, const std::vector<text::EncodedPair>& pairs,
                                          const AttentionView& view) {
    return std::move(forced_attention(model, pairs, std::vector<AttentionView>{view})[0]);
}

text::Alignment alignment_from_attention(const viz::Matrix& attention, std::size_t source_words, std::size_t target_words) {
    text::Alignment links;
    for (std::size_t t = 0; t < target_words && t < attention.rows; ++t) {
        std::size_t best = 0;
        for (std::size_t j = 1; j < source_words && j < attention.cols; ++j)
            if (attention.at(t, j) > attention.at(t, best)) best = j;
        if (source_words > 0) links.emplace_back(static_cast<int>(best), static_cast<int>(t));
    }
    return links;
}

}  // namespace translator
