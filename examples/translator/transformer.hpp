// The Transformer (Vaswani et al. 2017) as a translation model, on the same engine and with the same
// tools as RNNsearch (training, eval, beam search, heatmaps, checkpoints):
//
//   x_j  = Es[src_j] sqrt(d) + PE(j)              embeddings scaled, sinusoidal positions (Section 3.4-3.5)
//   h    = EncoderLayer^N(x)                      self-attention over the source, padding masked
//   y_i  = Et[y_{i-1}] sqrt(d) + PE(i)
//   z    = DecoderLayer^N(y, h)                   causal self-attention, cross-attention to h
//   p(y_i | y_<i, x) = softmax(W_o z_i + b_o)
//
// The layers are tg::TransformerEncoderLayer / TransformerDecoderLayer (layers/transformer.hpp),
// pinned against PyTorch's. Decoding caches each layer's self-attention keys and values: a step
// computes only the new word's, and the state beam search reorders is those caches.
#pragma once
#include "model.hpp"

namespace translator {

class Transformer : public TranslationModel {
public:
    Transformer(const ModelConfig& config, tg::Generator& gen);

    Encoded encode(std::span<const std::int32_t> source, std::size_t batch, std::size_t src_len,
                   std::span<const int> lengths, tg::Generator* dropout_stream = nullptr) const override;
    // The state: for each decoder layer, its self-attention's memory of the words so far (values,
    // keys, valid), three tensors a layer; empty before the first word.
    DecodeStep decode_step(const Encoded& enc, std::vector<tg::Var> state, std::span<const std::int32_t> prev_words,
                           const tg::PackedWeight* packed_output = nullptr) const override;
    // Teacher forcing: every target position at once, the causal mask keeping each from the later ones.
    // weights: the last layer's cross-attention, its heads averaged; layer_weights: every layer's heads.
    Forward forward(const tg::text::Batch& batch, tg::Generator* dropout_stream = nullptr) const override;

    const tg::Parameter& output_weight() const override { return config.tie_embeddings ? tgt_embed.weight : output.weight; }
    void set_dropout(float p) override;  // the paper's P_drop: embeddings and every sublayer

    tg::Embedding src_embed, tgt_embed;
    std::vector<std::unique_ptr<tg::TransformerEncoderLayer>> encoder;  // encoder.0, encoder.1, ...
    std::vector<std::unique_ptr<tg::TransformerDecoderLayer>> decoder;
    std::unique_ptr<tg::LayerNorm> encoder_norm, decoder_norm;  // pre_norm only: the stacks' last LayerNorm
    tg::Linear output;                                            // W_o, b_o

private:
    // E[ids] sqrt(d) + PE(first .. first + T - 1), dropout in training: ids [B, T] -> [B, T, d].
    tg::Var embed(const tg::Embedding& table, std::span<const std::int32_t> ids, std::size_t B, std::size_t T,
                  std::size_t first, tg::Generator* dropout_stream) const;
    tg::Var logits(const tg::Var& z, const tg::PackedWeight* packed_output) const;
};

}  // namespace translator
