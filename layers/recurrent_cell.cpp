#include "layers/recurrent_cell.hpp"

#include <fmt/format.h>

#include "autograd/ops.hpp"

namespace tg {

RecurrentCell::RecurrentCell(std::size_t input_size, std::size_t hidden_size, std::size_t gates, Generator& gen)
    : weight_ih(uniform_init({gates * hidden_size, input_size}, hidden_size, gen)),
      weight_hh(uniform_init({gates * hidden_size, hidden_size}, hidden_size, gen)),
      bias_ih(uniform_init({gates * hidden_size}, hidden_size, gen)),
      bias_hh(uniform_init({gates * hidden_size}, hidden_size, gen)),
      input_size(input_size),
      hidden_size(hidden_size) {
    register_parameter("weight_ih", weight_ih);
    register_parameter("weight_hh", weight_hh);
    register_parameter("bias_ih", bias_ih);
    register_parameter("bias_hh", bias_hh);
}

Var RecurrentCell::input_projection(const Var& x) const {
    const Shape& s = x.shape();
    if (s.rank() < 1 || s[s.rank() - 1] != input_size)
        throw ShapeError(fmt::format("{}: input {} does not end in input_size {}", kind(), s.str(), input_size));
    return linear(x, weight_ih, bias_ih);  // every gate's input term in one product
}

}  // namespace tg
