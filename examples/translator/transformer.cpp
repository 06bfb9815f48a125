#include "transformer.hpp"

#include <fmt/format.h>

#include <cmath>

#include "autograd/ops.hpp"
#include "text/vocab.hpp"

namespace translator {

using namespace tg;

namespace {

TransformerSizes layer_sizes(const ModelConfig& c) { return {c.model_dim, c.heads, c.ff_dim, c.pre_norm}; }

// The source's mask [B, S]: 1 at a sentence's words, 0 at padding.
Tensor source_mask(std::size_t batch, std::size_t src_len, std::span<const int> lengths) {
    Tensor valid({batch, src_len});
    for (std::size_t b = 0; b < batch; ++b)
        for (std::size_t j = 0; j < src_len; ++j) valid.at({b, j}) = j < static_cast<std::size_t>(lengths[b]) ? 1.0f : 0.0f;
    return valid;
}

}  // namespace

Transformer::Transformer(const ModelConfig& c, Generator& gen)
    : TranslationModel(c),
      src_embed(c.src_vocab, c.model_dim, gen, text::Vocab::kPad),
      tgt_embed(c.tgt_vocab, c.model_dim, gen, text::Vocab::kPad),
      output(c.model_dim, c.tgt_vocab, gen) {
    if (c.layers == 0) throw Error("transformer: layers must be 1 or more");
    // Embeddings start at N(0, 1/d), so that scaled by sqrt(d) they are of the positions' size (as
    // fairseq and the tensor2tensor code the paper came with initialise them).
    for (Embedding* e : {&src_embed, &tgt_embed}) {
        e->weight.value() = Tensor::randn(e->weight.shape(), gen, 1.0f / std::sqrt(static_cast<float>(c.model_dim)));
        for (std::size_t k = 0; k < c.model_dim; ++k) e->weight.value().at({static_cast<std::size_t>(text::Vocab::kPad), k}) = 0.0f;
    }
    register_module("src_embed", src_embed);
    register_module("tgt_embed", tgt_embed);
    for (std::size_t l = 0; l < c.layers; ++l) {
        encoder.push_back(std::make_unique<TransformerEncoderLayer>(layer_sizes(c), gen));
        register_module(fmt::format("encoder.{}", l), *encoder.back());
    }
    for (std::size_t l = 0; l < c.layers; ++l) {
        decoder.push_back(std::make_unique<TransformerDecoderLayer>(layer_sizes(c), gen));
        register_module(fmt::format("decoder.{}", l), *decoder.back());
    }
    if (c.pre_norm) {
        encoder_norm = std::make_unique<LayerNorm>(c.model_dim);
        decoder_norm = std::make_unique<LayerNorm>(c.model_dim);
        register_module("encoder_norm", *encoder_norm);
        register_module("decoder_norm", *decoder_norm);
    }
    if (c.tie_embeddings) register_parameter("output.bias", output.bias);  // W_o is tgt_embed.weight
    else register_module("output", output);
}

void Transformer::set_dropout(float p) {
    TranslationModel::set_dropout(p);
    for (auto& l : encoder) l->dropout.p = p;
    for (auto& l : decoder) l->dropout.p = p;
}

Var Transformer::embed(const Embedding& table, std::span<const std::int32_t> ids, std::size_t B, std::size_t T,
                       std::size_t first, Generator* dropout_stream) const {
    const std::size_t d = config.model_dim;
    const Var x = table.forward(ids, {B, T}) * std::sqrt(static_cast<float>(d));
    return dropped(x + constant(sinusoidal_positions(first, T, d)), dropout_stream);  // [B, T, d] + [T, d]
}

Var Transformer::logits(const Var& z, const PackedWeight* packed_output) const {
    if (packed_output) return linear(z, *packed_output, output.bias);
    return linear(z, output_weight(), output.bias);
}

// <doc:transformer-encode>
TranslationModel::Encoded Transformer::encode(std::span<const std::int32_t> source, std::size_t batch, std::size_t src_len,
                                              std::span<const int> lengths, Generator* dropout_stream) const {
    Encoded e;
    e.batch = batch;
    e.src_len = src_len;
    const Var valid = constant(source_mask(batch, src_len, lengths));
    Var h = embed(src_embed, source, batch, src_len, 0, dropout_stream);
    for (const auto& layer : encoder) h = layer->forward(h, valid, dropout_stream);
    if (encoder_norm) h = encoder_norm->forward(h);
    e.annotations = h;
    for (const auto& layer : decoder) e.memories.push_back(layer->cross_attn->precompute(h, valid));  // once per batch
    return e;
}
// </doc:transformer-encode>

// <doc:transformer-forward>
TranslationModel::Forward Transformer::forward(const text::Batch& batch, Generator* dropout_stream) const {
    const std::size_t B = batch.size, T = batch.tgt_len, D = config.model_dim;
    const Encoded enc = encode(batch.source, B, batch.src_len, batch.source_lengths, dropout_stream);
    Var z = embed(tgt_embed, batch.decoder_input, B, T, 0, dropout_stream);
    const Var causal = constant(causal_mask(B, T));  // position i sees the words before it, and itself
    Forward f;
    for (std::size_t l = 0; l < decoder.size(); ++l) {
        TransformerDecoderLayer::Output out = decoder[l]->forward(z, causal, nullptr, enc.memories[l], dropout_stream);
        z = out.y;
        f.layer_weights.push_back(out.cross_weights);  // [B, h, T, S]
    }
    if (decoder_norm) z = decoder_norm->forward(z);
    std::vector<std::int32_t> rows;  // the positions with a target word: only those reach the output layer
    for (std::size_t k = 0; k < B * T; ++k)
        if (batch.decoder_target[k] != text::Vocab::kPad) {
            rows.push_back(static_cast<std::int32_t>(k));
            f.targets.push_back(batch.decoder_target[k]);
        }
    const Var flat = reshape(z, {B * T, D});
    f.logits = logits(rows.size() == B * T ? flat : index_select(flat, 0, rows), nullptr);
    f.weights = mean(f.layer_weights.back(), 1);  // the last layer's heads averaged: [B, h, T, S] -> [B, T, S]
    return f;
}
// </doc:transformer-forward>

// <doc:transformer-step>
TranslationModel::DecodeStep Transformer::decode_step(const Encoded& enc, std::vector<Var> state,
                                                      std::span<const std::int32_t> prev_words,
                                                      const PackedWeight* packed_output) const {
    const std::size_t N = prev_words.size(), L = decoder.size();
    if (!state.empty() && state.size() != 3 * L)
        throw Error(fmt::format("transformer: a decoder state of {} tensors for {} layers (3 a layer)", state.size(), L));
    const std::size_t i = state.empty() ? 0 : state[2].shape()[1];  // the words so far: this word's position
    Var z = embed(tgt_embed, prev_words, N, 1, i, nullptr);          // [N, 1, d]
    const Var one = constant(Tensor::ones({N, 1}));
    const bool first = state.empty();
    state.resize(3 * L);
    Var cross;
    for (std::size_t l = 0; l < L; ++l) {
        const Attention::Memory past{state[3 * l], state[3 * l + 1], state[3 * l + 2]};  // values, keys, valid
        TransformerDecoderLayer::Output out = decoder[l]->forward(z, one, first ? nullptr : &past, enc.memories[l]);
        z = out.y;
        state[3 * l] = out.self_memory.values, state[3 * l + 1] = out.self_memory.keys, state[3 * l + 2] = out.self_memory.valid;
        cross = out.cross_weights;
    }
    DecodeStep s;
    s.state = std::move(state);
    if (decoder_norm) z = decoder_norm->forward(z);
    s.weights = reshape(mean(cross, 1), {N, cross.shape()[3]});  // the last layer's heads, averaged: [N, S]
    s.logits = logits(reshape(z, {N, config.model_dim}), packed_output);
    return s;
}
// </doc:transformer-step>

}  // namespace translator
