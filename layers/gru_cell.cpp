#include "layers/gru_cell.hpp"

#include <fmt/format.h>

#include "autograd/ops.hpp"
#include "kernels/kernels.hpp"

namespace tg {

GRUCell::GRUCell(std::size_t input_size, std::size_t hidden_size, Generator& gen, bool reset_after)
    : RecurrentCell(input_size, hidden_size, 3, gen), reset_after(reset_after) {}

// <doc:gru-step>
Var GRUCell::step(const Var& gi, const Var& h) const {
    const std::size_t H = hidden_size;
    if (h.shape().rank() != 2 || h.shape()[1] != H || !(gi.shape() == Shape{h.shape()[0], 3 * H}))
        throw ShapeError(fmt::format("GRUCell: state {} and input projection {} do not fit hidden_size {}",
                                     h.shape().str(), gi.shape().str(), H));
    // The gates' rows are stacked [r; z; n]: W_i{r,z,n} x + b_i{r,z,n} are three slices of gi.
    if (reset_after) {
        const Var gh = linear(h, weight_hh, bias_hh);  // W_h{r,z,n} h + b_h{r,z,n}, one product
        // The same four lines in one fused op, one record instead of 14 (kernels/gru_gates.cpp)
        if constexpr (kernels::enabled) return kernels::gru_gates(gi, gh, h).label("h'");
        Var r = sigmoid(slice(gi, 1, 0, H) + slice(gh, 1, 0, H)).label("r");              // reset gate
        Var z = sigmoid(slice(gi, 1, H, 2 * H) + slice(gh, 1, H, 2 * H)).label("z");      // update gate
        Var n = tanh(slice(gi, 1, 2 * H, 3 * H) + r * slice(gh, 1, 2 * H, 3 * H)).label("n");  // candidate
        return ((1.0f - z) * n + z * h).label("h'");                                      // new state
    }
    // reset before: r multiplies h before the recurrent product of the candidate
    const Var i_r = slice(gi, 1, 0, H), i_z = slice(gi, 1, H, 2 * H), i_n = slice(gi, 1, 2 * H, 3 * H);
    Var w_rz = slice(weight_hh, 0, 0, 2 * H), w_n = slice(weight_hh, 0, 2 * H, 3 * H);
    Var b_rz = slice(bias_hh, 0, 0, 2 * H), b_n = slice(bias_hh, 0, 2 * H, 3 * H);
    const Var g = linear(h, w_rz, b_rz);
    Var r = sigmoid(i_r + slice(g, 1, 0, H)).label("r");
    Var z = sigmoid(i_z + slice(g, 1, H, 2 * H)).label("z");
    Var n = tanh(i_n + linear(r * h, w_n, b_n)).label("n");
    return ((1.0f - z) * n + z * h).label("h'");
}
// </doc:gru-step>

}  // namespace tg
