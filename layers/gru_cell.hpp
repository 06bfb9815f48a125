// GRUCell: one step of a gated recurrent unit, with PyTorch's parameter names, shapes and gate
// layout (rows stacked [r; z; n]):
//
//     r  = sigmoid(W_ir x + b_ir + W_hr h + b_hr)                 reset gate
//     z  = sigmoid(W_iz x + b_iz + W_hz h + b_hz)                 update gate
//     n  = tanh(W_in x + b_in + r * (W_hn h + b_hn))              "reset after" (PyTorch, cuDNN; default)
//     n  = tanh(W_in x + b_in + W_hn (r * h) + b_hn)              "reset before" (the paper's Eq. in A.1.1)
//     h' = (1 - z) * n + z * h
//
// The paper writes the update gate the other way round (its z weights the new state); with the
// convention above a checkpoint is interchangeable with PyTorch's nn.GRUCell.
#pragma once
#include "recurrent_cell.hpp"

namespace tg {

class GRUCell : public RecurrentCell {
public:
    GRUCell(std::size_t input_size, std::size_t hidden_size, Generator& gen, bool reset_after = true);

    // forward(x [B, I], h [B, H]) -> h' [B, H] (RecurrentCell), in two halves so that a sequence can
    // project all its inputs in one matrix product: input_projection(x [..., I]) [..., 3H], then
    // step(gi [B, 3H], h [B, H]) -> h'. Parameters: weight_ih [3H, I], weight_hh [3H, H], biases [3H].
    Var step(const Var& gi, const Var& h) const override;

    bool reset_after;

protected:
    const char* kind() const override { return "GRUCell"; }
};

}  // namespace tg
