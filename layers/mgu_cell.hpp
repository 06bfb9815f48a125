// MGUCell: one step of a minimal gated unit (Zhou, Wu, Zhang & Zhou 2016, "Minimal gated unit for
// recurrent neural networks"): the GRU with its two gates merged into one forget gate f, the rows
// stacked [f; n]:
//
//     f  = sigmoid(W_if x + b_if + W_hf h + b_hf)                 forget gate
//     n  = tanh(W_in x + b_in + f * (W_hn h + b_hn))              candidate ("reset after", as the GRU's)
//     h' = (1 - f) * h + f * n
//
// Two gates where the GRU has three: a third fewer recurrent weights. It is the worked example of a
// new cell in docs/extending.md: this file, its .cpp, and its row in layers/cell_kinds.cpp.
#pragma once
#include "recurrent_cell.hpp"

namespace tg {

class MGUCell : public RecurrentCell {
public:
    MGUCell(std::size_t input_size, std::size_t hidden_size, Generator& gen);

    // step(gi [B, 2H], h [B, H]) -> h' [B, H]. Parameters: weight_ih [2H, I], weight_hh [2H, H], biases [2H].
    Var step(const Var& gi, const Var& h) const override;

protected:
    const char* kind() const override { return "MGUCell"; }
};

}  // namespace tg
