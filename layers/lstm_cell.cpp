#include "layers/lstm_cell.hpp"

#include <fmt/format.h>

#include "autograd/ops.hpp"

namespace tg {

LSTMCell::LSTMCell(std::size_t input_size, std::size_t hidden_size, Generator& gen)
    : RecurrentCell(input_size, hidden_size, 4, gen) {}

// <doc:lstm-step>
Var LSTMCell::step(const Var& gi, const Var& state) const {
    const std::size_t H = hidden_size;
    if (state.shape().rank() != 2 || state.shape()[1] != 2 * H || !(gi.shape() == Shape{state.shape()[0], 4 * H}))
        throw ShapeError(fmt::format("LSTMCell: state {} and input projection {} do not fit hidden_size {} (state [B, 2H])",
                                     state.shape().str(), gi.shape().str(), H));
    const Var h = slice(state, 1, 0, H), c = slice(state, 1, H, 2 * H);
    const Var gates = gi + linear(h, weight_hh, bias_hh);  // [i; f; g; o], both halves of each
    Var i = sigmoid(slice(gates, 1, 0, H)).label("i");
    Var f = sigmoid(slice(gates, 1, H, 2 * H)).label("f");
    Var g = tanh(slice(gates, 1, 2 * H, 3 * H)).label("g");
    Var o = sigmoid(slice(gates, 1, 3 * H, 4 * H)).label("o");
    Var c_new = (f * c + i * g).label("c'");
    Var h_new = (o * tanh(c_new)).label("h'");
    return concat({h_new, c_new}, 1);
}
// </doc:lstm-step>

Var LSTMCell::output(const Var& state) const { return slice(state, -1, 0, hidden_size); }

Var LSTMCell::initial_state(const Var& h) const { return concat({h, h * 0.0f}, 1); }

}  // namespace tg
