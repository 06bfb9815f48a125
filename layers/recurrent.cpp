// Running a recurrent cell over a padded batch of sentences (layers/recurrent.hpp): the GRU's and the
// LSTM's shared code.
#include "layers/recurrent.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <tuple>
#include <vector>

#include "autograd/ops.hpp"
#include "autograd/tape.hpp"

namespace tg {

namespace {

// One direction over the batch. `valid` [T, B, 1] holds 1 where position t is inside sentence b.
// Returns the outputs of each position [B, T, H] and the final state [B, N] (N = H for a GRU, 2H for
// an LSTM's [h ; c]).
std::pair<Var, Var> run(const RecurrentCell& cell, const Var& x, const Var& valid, std::size_t min_len, bool reverse) {
    const std::size_t B = x.shape()[0], T = x.shape()[1], H = cell.hidden_size, N = cell.state_size();
    const Var gi_all = cell.input_projection(x);  // all input projections in one product: [B, T, G*H]
    // The recurrence at position t, from the previous state h: the output (zero at padding) and the
    // new state (padding carries the state through unchanged).
    auto advance = [&](std::size_t t, const Var& h) -> std::pair<Var, Var> {
        Var h_new = cell.step(select(gi_all, 1, t), h);
        if (t < min_len) return {cell.output(h_new), h_new};  // every sentence is still running: no masking needed
        Var m = select(valid, 0, t);                           // [B, 1]
        return {cell.output(h_new) * m, where(m, h_new, h)};
    };
    if (grad_enabled()) {
        Var h = constant(Tensor::zeros({B, N}));
        std::vector<Var> outputs(T);
        for (std::size_t k = 0; k < T; ++k) {
            const std::size_t t = reverse ? T - 1 - k : k;
            std::tie(outputs[t], h) = advance(t, h);
        }
        return {stack(outputs, 1), h};  // [B, T, H]
    }
    // Without gradients nothing needs a step's values once it is done, so each step runs the same
    // advance() in an InferenceMode that releases them, the state carried as a Tensor and each output
    // copied into place. (Kept, they cost an encoder under `eval` 9H floats a word and direction: 50 MB
    // for a batch of 55 sentences of 50 pieces at H = 256.)
    Tensor outputs({B, T, H}), state = Tensor::zeros({B, N});
    for (std::size_t k = 0; k < T; ++k) {
        const std::size_t t = reverse ? T - 1 - k : k;
        InferenceMode step_scope;
        const auto [out, h] = advance(t, constant(state));
        for (std::size_t b = 0; b < B; ++b) std::copy_n(out.value().data() + b * H, H, outputs.data() + (b * T + t) * H);
        std::copy_n(h.value().data(), B * N, state.data());
    }
    return {constant(outputs), constant(state)};
}

}  // namespace

RecurrentOutput Recurrent::forward(const Var& x, std::span<const int> lengths) const {
    const Shape& s = x.shape();
    const char* name = kind();
    const std::size_t input = forward_cell_ ? forward_cell_->input_size : backward_cell_->input_size;
    if (s.rank() != 3 || s[2] != input)
        throw ShapeError(fmt::format("{}: expected input [B, T, {}], got {}", name, input, s.str()));
    const std::size_t B = s[0], T = s[1];
    if (lengths.size() != B)
        throw ShapeError(fmt::format("{}: {} lengths for a batch of {} (input {})", name, lengths.size(), B, s.str()));
    Tensor valid({T, B, 1});
    std::size_t min_len = T;
    for (std::size_t b = 0; b < B; ++b) {
        if (lengths[b] < 0 || static_cast<std::size_t>(lengths[b]) > T)
            throw IndexError(fmt::format("{}: length {} of sentence {} is outside [0, {}]", name, lengths[b], b, T));
        min_len = std::min(min_len, static_cast<std::size_t>(lengths[b]));
        for (std::size_t t = 0; t < T; ++t) valid.at({t, b, 0}) = t < static_cast<std::size_t>(lengths[b]) ? 1.0f : 0.0f;
    }
    const Var valid_var = constant(valid);

    std::vector<Var> finals;
    std::vector<Var> per_direction;
    for (const auto& [cell, reverse] : {std::pair{forward_cell_, false}, std::pair{backward_cell_, true}}) {
        if (!cell) continue;
        auto [outputs, final_state] = run(*cell, x, valid_var, min_len, reverse);
        per_direction.push_back(outputs);  // [B, T, H]
        finals.push_back(cell->output(final_state));
    }
    RecurrentOutput out;
    out.outputs = per_direction.size() == 1 ? per_direction[0] : concat(per_direction, 2);
    out.final = stack(finals, 0);
    return out;
}

}  // namespace tg
