#include "model.hpp"

#include <fmt/format.h>

#include <vector>

#include "autograd/ops.hpp"
#include "autograd/tape.hpp"
#include "text/vocab.hpp"

namespace translator {

using namespace tg;

std::string ModelConfig::str() const {
    return fmt::format("src_vocab {}\ntgt_vocab {}\nemb {}\nhidden {}\nattn {}\nattention {}\ndeep_output {}\n", src_vocab,
                       tgt_vocab, emb, hidden, attn, attention ? 1 : 0, deep_output);
}

RNNSearch::RNNSearch(const ModelConfig& c, Generator& gen)
// <doc:constructor>
    : config(c),
      src_embed(c.src_vocab, c.emb, gen, text::Vocab::kPad),
      tgt_embed(c.tgt_vocab, c.emb, gen, text::Vocab::kPad),
      encoder(c.emb, c.hidden, gen, Direction::bidirectional),
      bridge(c.hidden, c.hidden, gen),
      attention(c.attention ? std::make_unique<AdditiveAttention>(c.hidden, 2 * c.hidden, c.attn, gen) : nullptr),
      decoder(c.emb + 2 * c.hidden, c.hidden, gen),
      deep_output(c.deep_output ? std::make_unique<Maxout>(3 * c.hidden + c.emb, c.deep_output, gen) : nullptr),
      output(c.deep_output ? c.deep_output : 3 * c.hidden + c.emb, c.tgt_vocab, gen) {
    register_module("src_embed", src_embed);
    register_module("tgt_embed", tgt_embed);
    register_module("encoder", encoder);
    register_module("bridge", bridge);
    if (attention) register_module("attention", *attention);
    register_module("decoder", decoder);
    if (deep_output) register_module("deep_output", *deep_output);
    register_module("output", output);
    register_module("dropout", dropout);
}
// </doc:constructor>

// <doc:encode>
RNNSearch::Encoded RNNSearch::encode(std::span<const std::int32_t> source, std::size_t batch, std::size_t src_len,
                                     std::span<const int> lengths, Generator* dropout_stream) const {
    Encoded e;
    e.batch = batch;
    e.src_len = src_len;
    Var x = dropped(src_embed.forward(source, {batch, src_len}), dropout_stream);  // x_j = Es[src_j]
    GRUOutput out = encoder.forward(x, lengths);                       // f_j forward, b_j backward in time
    e.annotations = out.outputs;                                       // h_j = [f_j ; b_j]
    Var f_last = select(out.final, 0, 0), b_first = select(out.final, 0, 1);
    e.initial = tanh(bridge.forward(b_first));                         // s_0 = tanh(W_init b_1 + b_init)
    if (attention) {
        Tensor valid({batch, src_len});
        for (std::size_t b = 0; b < batch; ++b)
            for (std::size_t j = 0; j < src_len; ++j) valid.at({b, j}) = j < static_cast<std::size_t>(lengths[b]) ? 1.0f : 0.0f;
        e.keys = attention->precompute(e.annotations, constant(valid)); // K_j = U_a h_j + b_a
    } else {
        e.fixed = concat({f_last, b_first}, 1);                         // RNNencdec: c = [f_len ; b_1]
    }
    return e;
}
// </doc:encode>

void RNNSearch::set_dropout(float p) {
    if (!(p >= 0.0f && p < 1.0f)) throw Error(fmt::format("dropout {} is outside [0, 1)", p));
    dropout.p = p;
}

void RNNSearch::set_label_smoothing(float e) {
    if (!(e >= 0.0f && e < 1.0f)) throw Error(fmt::format("label smoothing {} is outside [0, 1)", e));
    label_smoothing_ = e;
}

// <doc:output-and-step>
// <doc:output-logits>
Var RNNSearch::output_logits(const Var& state, const Var& context, const Var& prev_embedding, Generator* dropout_stream,
                             const PackedWeight* packed_output) const {
    Var features = dropped(concat({state, context, prev_embedding}, -1), dropout_stream);  // [s_i ; c_i ; Et[y_{i-1}]]
    if (deep_output) features = deep_output->forward(features);   // t_i = maxout(...)  (Appendix A.2.2)
    if (packed_output) return linear(features, *packed_output, output.has_bias() ? output.bias.var() : Var());
    return output.forward(features);                              // W_o (...) + b_o
}
// </doc:output-logits>

// <doc:recur>
RNNSearch::Step RNNSearch::recur(const Encoded& enc, const Var& prev_state, const Var& prev_embedding) const {
    Step s;
    if (attention) {
        auto [context, weights] = attention->forward(enc.keys, prev_state);  // e_ij, alpha_ij, c_i (Eq. 5-6)
        s.context = context;
        s.weights = weights;
    } else {
        s.context = enc.fixed;
    }
    s.state = decoder.forward(concat({prev_embedding, s.context}, 1), prev_state);  // s_i = GRU([Et[y_{i-1}] ; c_i], s_{i-1})
    return s;
}
// </doc:recur>

RNNSearch::Step RNNSearch::step(const Encoded& enc, const Var& prev_state, std::span<const std::int32_t> prev_words,
                                const PackedWeight* packed_output) const {
    Var y_prev = tgt_embed.forward(prev_words, {prev_words.size()});  // Et[y_{i-1}]
    Step s = recur(enc, prev_state, y_prev);
    s.logits = output_logits(s.state, s.context, y_prev, nullptr, packed_output);
    return s;
}
// </doc:output-and-step>

// <doc:forward>
RNNSearch::Forward RNNSearch::forward(const text::Batch& batch, Generator* dropout_stream) const {
    const std::size_t B = batch.size, T = batch.tgt_len;
    const Encoded enc = encode(batch.source, B, batch.src_len, batch.source_lengths, dropout_stream);
    const Var y_in = dropped(tgt_embed.forward(batch.decoder_input, {B, T}), dropout_stream);  // every Et[y_{i-1}]: [B, T, E]
    std::vector<Var> states(T), contexts(T), weights(attention ? T : 0);
    Var s = enc.initial;
    for (std::size_t i = 0; i < T; ++i) {
        Step step_i = recur(enc, s, select(y_in, 1, i));
        s = states[i] = step_i.state;
        contexts[i] = step_i.context;
        if (attention) weights[i] = step_i.weights;
    }
    // The output layer for all steps in one product: [N, 3H + E] -> [N, Vt]. The inputs are
    // flattened, not the logits: with a real vocabulary those are the step's largest tensor. Only
    // the N positions with a target word go in: a padded position's logits would be computed and
    // then ignored by the loss, and the output layer is most of a step's arithmetic.
    const std::size_t H = config.hidden, E = config.emb;
    Forward f;
    std::vector<std::int32_t> rows;  // rows of [B*T] with a target
    for (std::size_t k = 0; k < B * T; ++k)
        if (batch.decoder_target[k] != text::Vocab::kPad) {
            rows.push_back(static_cast<std::int32_t>(k));
            f.targets.push_back(batch.decoder_target[k]);
        }
    auto flat = [&](const Var& x, std::size_t width) {  // [B, T, width] -> [N, width]
        Var all = reshape(x, {B * T, width});
        return rows.size() == B * T ? all : index_select(all, 0, rows);
    };
    f.logits = output_logits(flat(stack(states, 1), H), flat(stack(contexts, 1), 2 * H), flat(y_in, E), dropout_stream);
    if (attention) f.weights = stack(weights, 1);
    return f;
}
// </doc:forward>

// <doc:loss>
Var RNNSearch::loss(const text::Batch& batch, Generator* dropout_stream) const {
    const Forward f = forward(batch, dropout_stream);
    const bool training = is_training() && grad_enabled();
    return cross_entropy(f.logits, f.targets, text::Vocab::kPad, training ? label_smoothing_ : 0.0f);
}
// </doc:loss>

}  // namespace translator
