#include "layers/mgu_cell.hpp"

#include <fmt/format.h>

#include "autograd/ops.hpp"

namespace tg {

MGUCell::MGUCell(std::size_t input_size, std::size_t hidden_size, Generator& gen)
    : RecurrentCell(input_size, hidden_size, 2, gen) {}

Var MGUCell::step(const Var& gi, const Var& h) const {
    const std::size_t H = hidden_size;
    if (h.shape().rank() != 2 || h.shape()[1] != H || !(gi.shape() == Shape{h.shape()[0], 2 * H}))
        throw ShapeError(fmt::format("MGUCell: state {} and input projection {} do not fit hidden_size {}",
                                     h.shape().str(), gi.shape().str(), H));
    const Var gh = linear(h, weight_hh, bias_hh);  // W_h{f,n} h + b_h{f,n}, one product
    Var f = sigmoid(slice(gi, 1, 0, H) + slice(gh, 1, 0, H)).label("f");              // forget gate
    Var n = tanh(slice(gi, 1, H, 2 * H) + f * slice(gh, 1, H, 2 * H)).label("n");     // candidate
    return ((1.0f - f) * h + f * n).label("h'");                                      // new state
}

}  // namespace tg
