// RecurrentCell: what a recurrent layer (layers/recurrent.hpp: the GRU, the LSTM) and the translator's
// decoder need of one step of a recurrent unit, whichever unit it is, and what the units share: G gates
// (3 for the GRU, 4 for the LSTM), each with an input and a recurrent weight and bias, PyTorch's
// names and shapes. A cell carries a state of state_size() floats per sentence (the GRU its h; the
// LSTM its h and its memory c, side by side) and shows output(state), the part the layers above read
// (h for both).
#pragma once
#include "module.hpp"

namespace tg {

class RecurrentCell : public Module {
public:
    // x [..., I] -> x W_ih^T + b_ih [..., G*H], the input's share of every gate: a sequence projects
    // all its inputs in one matrix product before the recurrence.
    Var input_projection(const Var& x) const;
    // One step: the input projection gi [B, G*H] and the state [B, state_size()] -> the new state.
    virtual Var step(const Var& gi, const Var& state) const = 0;
    Var forward(const Var& x, const Var& state) const { return step(input_projection(x), state); }

    virtual std::size_t state_size() const { return hidden_size; }
    virtual Var output(const Var& state) const { return state; }  // [B, H] of [B, state_size()]
    // The state a sentence starts from, given its h [B, H] (the LSTM's memory starts at zero).
    virtual Var initial_state(const Var& h) const { return h; }

    Parameter weight_ih;  // [G*H, I]
    Parameter weight_hh;  // [G*H, H]
    Parameter bias_ih;    // [G*H]
    Parameter bias_hh;    // [G*H]
    std::size_t input_size, hidden_size;

protected:
    // The four parameters, registered, initialised as PyTorch does: U(-1/sqrt(H), 1/sqrt(H)).
    RecurrentCell(std::size_t input_size, std::size_t hidden_size, std::size_t gates, Generator& gen);
    virtual const char* kind() const = 0;  // "GRUCell", "LSTMCell": for error messages
};

}  // namespace tg
