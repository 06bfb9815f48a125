#include "model.hpp"

#include <fmt/format.h>

#include <charconv>
#include <map>
#include <sstream>
#include <vector>

#include "autograd/ops.hpp"
#include "autograd/tape.hpp"
#include "io/files.hpp"
#include "text/vocab.hpp"
#include "transformer.hpp"

namespace translator {

using namespace tg;

std::string ModelConfig::str() const {
    if (is_transformer())
        return fmt::format("arch transformer\nsrc_vocab {}\ntgt_vocab {}\nmodel_dim {}\nff_dim {}\nlayers {}\nheads {}\n"
                           "pre_norm {}\ntie_embeddings {}\n",
                           src_vocab, tgt_vocab, model_dim, ff_dim, layers, heads, pre_norm ? 1 : 0, tie_embeddings ? 1 : 0);
    return fmt::format("arch rnnsearch\nsrc_vocab {}\ntgt_vocab {}\nemb {}\ncell {}\nhidden {}\nencoder_hidden {}\nattention {}\n"
                       "attn {}\nheads {}\ndeep_output {}\ntie_embeddings {}\n",
                       src_vocab, tgt_vocab, emb, cell, hidden, encoder_size(), attention, attn, heads, deep_output,
                       tie_embeddings ? 1 : 0);
}

std::string ModelConfig::describe() const {
    if (is_transformer())
        return fmt::format("Transformer ({} + {} layers, d_model {}, {} heads, d_ff {}, {})", layers, layers, model_dim, heads,
                           ff_dim, pre_norm ? "pre-norm" : "post-norm");
    return has_attention() ? fmt::format("RNNsearch ({}) with {} attention", cell, attention) : "RNNencdec (no attention)";
}

ModelConfig ModelConfig::parse(const std::string& text, const std::string& where) {
    ModelConfig c;
    std::istringstream lines(text);
    std::string line;
    std::map<std::string, int> seen;  // each key's line
    if (text.find_first_not_of(" \t\r\n") == std::string::npos)
        throw FileError(fmt::format("{}:1: empty: a model's configuration is its keys and values, one a line (or remove the file: "
                                    "the sizes are then read from the weights' shapes)", where));
    for (int number = 1; std::getline(lines, line); ++number) {
        if (line.empty()) continue;
        std::istringstream fields(line);
        std::string key, value, extra;
        fields >> key >> value;
        // Whatever the file holds is quoted printable: never a control character or escape sequence.
        auto fail = [&](const std::string& why) { return FileError(fmt::format("{}:{}: {}", where, number, printable(why, 200))); };
        if (value.empty() || (fields >> extra)) throw fail(fmt::format("'{}' is not one key and one value", line));
        if (const auto [at, first] = seen.emplace(key, number); !first)
            throw fail(fmt::format("'{}' given again (first on line {}): which one was meant?", key, at->second));
        auto size = [&]() -> std::size_t {
            std::size_t n = 0;
            const auto [end, error] = std::from_chars(value.data(), value.data() + value.size(), n);
            if (error != std::errc() || end != value.data() + value.size() || n > 100'000'000)
                throw fail(fmt::format("{} '{}' is not a size", key, value));
            return n;
        };
        auto flag = [&] {
            if (value != "0" && value != "1") throw fail(fmt::format("{} '{}': 0 or 1", key, value));
            return value == "1";
        };
        if (key == "arch") {
            if (value != "rnnsearch" && value != "transformer")
                throw fail(fmt::format("arch '{}': this translator builds rnnsearch and transformer", value));
            c.arch = value;
        } else if (key == "src_vocab") c.src_vocab = size();
        else if (key == "tgt_vocab") c.tgt_vocab = size();
        else if (key == "emb") c.emb = size();
        else if (key == "hidden") c.hidden = size();
        else if (key == "cell") {
            if (!find_cell_kind(value)) throw fail(fmt::format("cell '{}': this translator's cells are {}", value, cell_kind_names()));
            c.cell = value;
        }
        else if (key == "encoder_hidden") c.encoder_hidden = size();
        else if (key == "attn") c.attn = size();
        else if (key == "heads") c.heads = size();
        else if (key == "deep_output") c.deep_output = size();
        else if (key == "tie_embeddings") c.tie_embeddings = flag();
        else if (key == "model_dim") c.model_dim = size();
        else if (key == "ff_dim") c.ff_dim = size();
        else if (key == "layers") c.layers = size();
        else if (key == "pre_norm") c.pre_norm = flag();
        else if (key == "attention") {  // rounds 1 and 2 wrote 1 (additive) or 0 (none)
            c.attention = value == "1" ? "additive" : value == "0" ? "none" : value;
            if (c.attention != "none" && !find_attention_kind(c.attention))
                throw fail(fmt::format("attention '{}' is not a score function of this translator", value));
        } else throw fail(fmt::format("unknown key '{}'", key));
    }
    return c;
}

// ---------------------------------------------------------------- what every model shares

std::vector<Var> TranslationModel::initial_state(const Encoded& enc) const {
    return enc.initial.defined() ? std::vector<Var>{enc.initial} : std::vector<Var>{};
}

void TranslationModel::set_dropout(float p) {
    if (!(p >= 0.0f && p < 1.0f)) throw Error(fmt::format("dropout {} is outside [0, 1)", p));
    dropout.p = p;
}

void TranslationModel::set_label_smoothing(float e) {
    if (!(e >= 0.0f && e < 1.0f)) throw Error(fmt::format("label smoothing {} is outside [0, 1)", e));
    label_smoothing_ = e;
}

// <doc:loss>
Var TranslationModel::loss(const text::Batch& batch, Generator* dropout_stream) const {
    const Forward f = forward(batch, dropout_stream);
    const bool training = is_training() && grad_enabled();
    return cross_entropy(f.logits, f.targets, text::Vocab::kPad, training ? label_smoothing_ : 0.0f);
}
// </doc:loss>

std::unique_ptr<TranslationModel> make_model(const ModelConfig& config, Generator& gen) {
    if (config.is_transformer()) return std::make_unique<Transformer>(config, gen);
    return std::make_unique<RNNSearch>(config, gen);
}

// ---------------------------------------------------------------- RNNsearch

RNNSearch::RNNSearch(const ModelConfig& c, Generator& gen)
// <doc:constructor>
    : TranslationModel(c),
      src_embed(c.src_vocab, c.emb, gen, text::Vocab::kPad),
      tgt_embed(c.tgt_vocab, c.emb, gen, text::Vocab::kPad),
      encoder(make_recurrent(c.cell, c.emb, c.encoder_size(), gen, Direction::bidirectional)),
      bridge(c.encoder_size(), c.hidden, gen),
      attention(c.has_attention() ? make_attention(c.attention, {c.hidden, 2 * c.encoder_size(), c.attn, c.heads}, gen)
                                  : nullptr),
      decoder(make_cell(c.cell, c.emb + context_size(), c.hidden, gen)),
      deep_output(c.deep_output ? std::make_unique<Maxout>(c.hidden + context_size() + c.emb, c.deep_output, gen) : nullptr),
      output(c.deep_output ? c.deep_output : c.hidden + context_size() + c.emb, c.tgt_vocab, gen) {
    register_module("src_embed", src_embed);
    register_module("tgt_embed", tgt_embed);
    register_module("encoder", *encoder);
    register_module("bridge", bridge);
    if (attention) register_module("attention", *attention);
    register_module("decoder", *decoder);
    if (deep_output) register_module("deep_output", *deep_output);
    if (c.tie_embeddings) {  // W_o is tgt_embed.weight: only the bias is the output layer's own
        if ((c.deep_output ? c.deep_output : c.hidden + context_size() + c.emb) != c.emb)
            throw Error(fmt::format("tie_embeddings: the output layer reads {} features, the target embedding has {} (a "
                                    "deep output of {} units ties)", output.weight.shape()[1], c.emb, c.emb));
        register_parameter("output.bias", output.bias);
    } else {
        register_module("output", output);
    }
}
// </doc:constructor>

std::size_t RNNSearch::context_size() const { return attention ? attention->context_size() : 2 * config.encoder_size(); }

// <doc:encode>
RNNSearch::Encoded RNNSearch::encode(std::span<const std::int32_t> source, std::size_t batch, std::size_t src_len,
                                     std::span<const int> lengths, Generator* dropout_stream) const {
    Encoded e;
    e.batch = batch;
    e.src_len = src_len;
    Var x = dropped(src_embed.forward(source, {batch, src_len}), dropout_stream);  // x_j = Es[src_j]
    RecurrentOutput out = encoder->forward(x, lengths);                // f_j forward, b_j backward in time
    e.annotations = out.outputs;                                       // h_j = [f_j ; b_j]
    Var f_last = select(out.final, 0, 0), b_first = select(out.final, 0, 1);
    e.initial = decoder->initial_state(tanh(bridge.forward(b_first))); // s_0 = tanh(W_init b_1 + b_init) (an LSTM's memory: 0)
    if (attention) {
        Tensor valid({batch, src_len});
        for (std::size_t b = 0; b < batch; ++b)
            for (std::size_t j = 0; j < src_len; ++j) valid.at({b, j}) = j < static_cast<std::size_t>(lengths[b]) ? 1.0f : 0.0f;
        e.memories = {attention->precompute(e.annotations, constant(valid))};  // the keys: U_a h_j + b_a, ...
    } else {
        e.fixed = concat({f_last, b_first}, 1);                         // RNNencdec: c = [f_len ; b_1]
    }
    return e;
}
// </doc:encode>

// <doc:output-and-step>
// <doc:output-logits>
Var RNNSearch::output_logits(const Var& state, const Var& context, const Var& prev_embedding, Generator* dropout_stream,
                             const PackedWeight* packed_output) const {
    Var features = dropped(concat({state, context, prev_embedding}, -1), dropout_stream);  // [s_i ; c_i ; Et[y_{i-1}]]
    if (deep_output) features = deep_output->forward(features);   // t_i = maxout(...)  (Appendix A.2.2)
    if (packed_output) return linear(features, *packed_output, output.has_bias() ? output.bias.var() : Var());
    return linear(features, output_weight(), output.bias);       // W_o (...) + b_o
}
// </doc:output-logits>

// <doc:recur>
RNNSearch::Step RNNSearch::recur(const Encoded& enc, const Var& prev_state, const Var& prev_embedding) const {
    Step s;
    if (attention) {
        auto [context, weights, heads] = attention->forward(enc.memories[0], decoder->output(prev_state));  // e_ij, alpha_ij, c_i (Eq. 5-6)
        s.context = context;
        s.weights = weights;
    } else {
        s.context = enc.fixed;
    }
    s.state = decoder->forward(concat({prev_embedding, s.context}, 1), prev_state);  // s_i = GRU([Et[y_{i-1}] ; c_i], s_{i-1})
    return s;
}
// </doc:recur>

RNNSearch::Step RNNSearch::step(const Encoded& enc, const Var& prev_state, std::span<const std::int32_t> prev_words,
                                const PackedWeight* packed_output) const {
    Var y_prev = tgt_embed.forward(prev_words, {prev_words.size()});  // Et[y_{i-1}]
    Step s = recur(enc, prev_state, y_prev);
    s.logits = output_logits(decoder->output(s.state), s.context, y_prev, nullptr, packed_output);
    return s;
}

TranslationModel::DecodeStep RNNSearch::decode_step(const Encoded& enc, std::vector<Var> state,
                                                    std::span<const std::int32_t> prev_words, const PackedWeight* packed_output) const {
    Step s = step(enc, state.at(0), prev_words, packed_output);
    state[0] = s.state;
    return {std::move(state), s.weights, s.logits};
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
        s = step_i.state;
        states[i] = decoder->output(s);  // s_i (an LSTM's h, without its memory)
        contexts[i] = step_i.context;
        if (attention) weights[i] = step_i.weights;
    }
    // The output layer for all steps in one product: [N, 3H + E] -> [N, Vt]. The inputs are
    // flattened, not the logits: with a real vocabulary those are the step's largest tensor. Only
    // the N positions with a target word go in: a padded position's logits would be computed and
    // then ignored by the loss, and the output layer is most of a step's arithmetic.
    const std::size_t H = config.hidden, E = config.emb, C = context_size();
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
    f.logits = output_logits(flat(stack(states, 1), H), flat(stack(contexts, 1), C), flat(y_in, E), dropout_stream);
    if (attention) f.weights = stack(weights, 1);
    return f;
}
// </doc:forward>

}  // namespace translator
