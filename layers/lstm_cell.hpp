// LSTMCell: one step of a long short-term memory unit (Hochreiter & Schmidhuber 1997, with the forget
// gate of Gers et al. 2000), with PyTorch's parameter names, shapes and gate layout (rows [i; f; g; o]):
//
//     i  = sigmoid(W_ii x + b_ii + W_hi h + b_hi)     input gate
//     f  = sigmoid(W_if x + b_if + W_hf h + b_hf)     forget gate
//     g  = tanh(W_ig x + b_ig + W_hg h + b_hg)        candidate memory
//     o  = sigmoid(W_io x + b_io + W_ho h + b_ho)     output gate
//     c' = f * c + i * g                              memory: added to, not rewritten
//     h' = o * tanh(c')
//
// Its state is [h ; c] side by side, [B, 2H] (RecurrentCell), so that everything that carries a
// GRU's state (a padded sequence, beam search reordering hypotheses) carries this one unchanged.
#pragma once
#include "recurrent_cell.hpp"

namespace tg {

class LSTMCell : public RecurrentCell {
public:
    // Parameters: weight_ih [4H, I], weight_hh [4H, H], biases [4H] (RecurrentCell).
    LSTMCell(std::size_t input_size, std::size_t hidden_size, Generator& gen);
    Var step(const Var& gi, const Var& state) const override;    // gi [B, 4H], [h ; c] -> [h' ; c']
    std::size_t state_size() const override { return 2 * hidden_size; }
    Var output(const Var& state) const override;                  // h
    Var initial_state(const Var& h) const override;               // [h ; 0]

protected:
    const char* kind() const override { return "LSTMCell"; }
};

}  // namespace tg
