// The toy RNNsearch of docs/spec/model.md (Bahdanau et al. 2015, Section 3 and
// Appendix A), built only from tapegrad's public layers and ops, and the RNNencdec baseline
// (no attention: a fixed context). Parameter names are the spec's, so checkpoints are plain
// numpy files that a PyTorch script can load.
#pragma once
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "kernels/packed.hpp"
#include "layers/layers.hpp"
#include "text/batching.hpp"

namespace translator {

// The model's architecture and sizes: data, written to the checkpoint (config.txt) and read back, so
// loading builds exactly the model that was saved.
struct ModelConfig {
    std::string arch = "rnnsearch";  // "rnnsearch" (the paper's, and RNNencdec) or "transformer"
    std::size_t src_vocab = 0, tgt_vocab = 0;
    // --- rnnsearch ---
    std::size_t emb = 64, hidden = 128, attn = 128;
    std::size_t encoder_hidden = 0;  // each direction of the encoder; 0: `hidden`, as in the paper
    std::string cell = "gru";            // the encoder's and decoder's unit: a cell of tg::cell_kinds(); "gru" the paper's
    std::string attention = "additive";  // a score function of tg::attention_kinds(), or "none": RNNencdec
    std::size_t heads = 4;               // multi_head attention's heads (unused by the others); the Transformer's
    std::size_t deep_output = 0;  // > 0: a maxout layer of this size before the softmax (Appendix A.2.2)
    // The output layer's weight is the target embedding (Press & Wolf 2017): one matrix of Vt x E
    // instead of two. Needs the output layer to read E features (rnnsearch: deep_output == emb).
    bool tie_embeddings = false;
    // --- transformer (Vaswani et al. 2017) ---
    std::size_t model_dim = 64, ff_dim = 256, layers = 2;  // d_model, d_ff, N (encoder and decoder layers each)
    bool pre_norm = false;                                   // LayerNorm before each sublayer (the paper: after)

    bool is_transformer() const { return arch == "transformer"; }
    bool has_attention() const { return is_transformer() || attention != "none"; }
    std::size_t encoder_size() const { return encoder_hidden ? encoder_hidden : hidden; }
    std::string describe() const;  // "RNNsearch (gru) with additive attention", "Transformer (2 layers, ...)"
    // config.txt: one "key value" a line ("arch rnnsearch\nemb 64\n..."); parse() reads it back, and
    // the config.txt of round 1 and 2 checkpoints ("attention 1"), naming `where` and the line of an error.
    std::string str() const;
    static ModelConfig parse(const std::string& text, const std::string& where);
};

// What training, decoding and the tools ask of a translation model, whatever its architecture: an
// encoder run once per batch of sources, a decoder step from the previous words (decoding), and
// teacher forcing over a whole batch (training). RNNsearch (below) and the Transformer
// (transformer.hpp) are the two.
class TranslationModel : public tg::Module {
public:
    explicit TranslationModel(const ModelConfig& c) : config(c) { register_module("dropout", dropout); }
    ModelConfig config;

    // The encoder's results for a batch of source sentences [B, S] with their lengths.
    struct Encoded {
        std::size_t batch = 0, src_len = 0;
        tg::Var annotations;  // the encoder's output: RNNsearch's h_j = [f_j ; b_j] [B, S, 2H] (Section 3.2)
        // The keys and values each attention over the source reads, computed once per batch:
        // RNNsearch's one attention (none for RNNencdec), the Transformer's cross-attention of each layer.
        std::vector<tg::Attention::Memory> memories;
        tg::Var initial;      // RNNsearch: s_0 = tanh(W_init b_1 + b) [B, H]; the Transformer: none
        tg::Var fixed;        // RNNencdec: [f_len ; b_1], its fixed context [B, 2H]
    };
    // With `dropout_stream`, in training mode, dropout.
    virtual Encoded encode(std::span<const std::int32_t> source, std::size_t batch, std::size_t src_len,
                           std::span<const int> lengths, tg::Generator* dropout_stream = nullptr) const = 0;

    // Decoding, a word a step. The decoder's state is a list of tensors of one row per hypothesis
    // (axis 0), which beam search reorders: RNNsearch's s_{i-1}; the Transformer's cached keys and
    // values of every layer (empty before the first word).
    std::vector<tg::Var> initial_state(const Encoded& enc) const;
    struct DecodeStep {
        std::vector<tg::Var> state;  // the next step's
        tg::Var weights;             // the attention over the source [N, S] (undefined without attention)
        tg::Var logits;              // [N, Vt]
    };
    // From the state and the previous words y_{i-1} [N] (N = B*G: G hypotheses per sentence). The state
    // goes in and comes back advanced, in the same vector (a decoding loop allocates nothing per step).
    // The output weight may come packed once for all steps (kernels/packed.hpp): the same logits, faster.
    virtual DecodeStep decode_step(const Encoded& enc, std::vector<tg::Var> state, std::span<const std::int32_t> prev_words,
                                   const tg::PackedWeight* packed_output = nullptr) const = 0;

    // Teacher forcing over a batch, the output layer over the N positions that have a target word.
    struct Forward {
        tg::Var logits;                     // [N, Vt], in the order of batch.decoder_target (b*T + i), padding left out
        tg::Var weights;                    // attention over the source [B, T, S] (undefined for RNNencdec)
        std::vector<tg::Var> layer_weights; // the Transformer: each layer's cross-attention, per head [B, h, T, S]
        std::vector<std::int32_t> targets;  // the N target words
    };
    // With `dropout_stream`, in training mode, dropout.
    virtual Forward forward(const tg::text::Batch& batch, tg::Generator* dropout_stream = nullptr) const = 0;
    // The mean over the batch's target words of -log p(y_i | ...): cross-entropy of forward(), with
    // label smoothing in training mode while gradients are on.
    tg::Var loss(const tg::text::Batch& batch, tg::Generator* dropout_stream = nullptr) const;

    // The output layer's weight [Vt, features] (the target embedding's, when tied).
    virtual const tg::Parameter& output_weight() const = 0;

    // Dropout while training (p; 0 unless set) and label smoothing: training settings, not part of the
    // model (inference is exactly the spec's). Validation and the loss command score the plain
    // -log p(y_i | ...).
    virtual void set_dropout(float p);
    void set_label_smoothing(float e);

protected:
    tg::Dropout dropout;  // p = 0 unless set_dropout (no parameters)
    tg::Var dropped(const tg::Var& x, tg::Generator* stream) const { return stream ? dropout.forward(x, *stream) : x; }

private:
    float label_smoothing_ = 0.0f;
};

// The model a configuration describes (RNNSearch or Transformer), its parameters initialised from `gen`.
std::unique_ptr<TranslationModel> make_model(const ModelConfig& config, tg::Generator& gen);

// The toy RNNsearch: a bidirectional encoder, an attention, a recurrent decoder (Section 3, Appendix A).
class RNNSearch : public TranslationModel {
public:
    RNNSearch(const ModelConfig& config, tg::Generator& gen);

    Encoded encode(std::span<const std::int32_t> source, std::size_t batch, std::size_t src_len,
                   std::span<const int> lengths, tg::Generator* dropout_stream = nullptr) const override;

    // One decoder step i: from s_{i-1} and the previous words' embeddings Et[y_{i-1}] [B, E] to s_i,
    // c_i and alpha_i (Eq. 4-6 with A.2.2): the recurrence, written once, for training and decoding.
    struct Step {
        tg::Var state;    // s_i       [B, H] (an LSTM decoder's [h ; c], [B, 2H]: decoder->output(state) is h)
        tg::Var context;  // c_i       [B, 2H]
        tg::Var weights;  // alpha_i   [B, S]  (undefined for the baseline)
        tg::Var logits;   // [B, Vt]   (step() only: forward() runs the output layer once for all steps)
    };
    Step recur(const Encoded& enc, const tg::Var& prev_state, const tg::Var& prev_embedding) const;
    // A decoding step: recur() and the output layer, from the previous words y_{i-1} [B]. Decoding
    // passes the output weight packed once (kernels/packed.hpp): the same logits, faster.
    Step step(const Encoded& enc, const tg::Var& prev_state, std::span<const std::int32_t> prev_words,
              const tg::PackedWeight* packed_output = nullptr) const;
    DecodeStep decode_step(const Encoded& enc, std::vector<tg::Var> state, std::span<const std::int32_t> prev_words,
                           const tg::PackedWeight* packed_output = nullptr) const override;

    // Teacher forcing over a batch: recur() over every step, then the output layer once over the N
    // positions that have a target word. Dropout on the embeddings and the output layer's input.
    Forward forward(const tg::text::Batch& batch, tg::Generator* dropout_stream = nullptr) const override;

    tg::Embedding src_embed, tgt_embed;
    std::unique_ptr<tg::Recurrent> encoder;           // bidirectional GRU or LSTM: encoder.fwd, encoder.bwd
    tg::Linear bridge;                                // W_init, b_init
    std::unique_ptr<tg::Attention> attention;         // config.attention's score function; null for the baseline
    std::unique_ptr<tg::RecurrentCell> decoder;       // GRU or LSTM cell, input [Et[y_{i-1}] ; c_i]
    std::unique_ptr<tg::Maxout> deep_output;          // null unless config.deep_output > 0
    tg::Linear output;                                // W_o [s_i ; c_i ; Et[y_{i-1}]] + b_o (or W_o t_i)

    std::size_t context_size() const;  // c_i's size: 2H, or what the attention gives (multi_head: H)
    // W_o: output.weight, or the target embedding's when config.tie_embeddings (output.weight is then
    // not a parameter of the model: neither trained nor saved).
    const tg::Parameter& output_weight() const override { return config.tie_embeddings ? tgt_embed.weight : output.weight; }

private:
    tg::Var output_logits(const tg::Var& state, const tg::Var& context, const tg::Var& prev_embedding,
                          tg::Generator* dropout_stream, const tg::PackedWeight* packed_output = nullptr) const;
};

}  // namespace translator
