// The second example: a small multi-layer perceptron learns to tell two interleaved spirals apart.
// It shows the parts a model is built from: a Module with named submodules, an optimizer that
// walks its parameters, gradient clipping, evaluation in an InferenceMode, and a checkpoint.
//   Run:  build/examples/mlp [checkpoint-dir]
#include <fmt/core.h>

#include <cmath>
#include <numbers>

#include "tapegrad.hpp"

using namespace tg;

// Two spirals, n points each, in [-1, 1]^2; label 0 or 1.
static void spirals(std::size_t n, Generator& gen, Tensor& x, std::vector<std::int32_t>& y) {
    x = Tensor::zeros({2 * n, 2});
    y.assign(2 * n, 0);
    for (std::size_t i = 0; i < 2 * n; ++i) {
        const float t = static_cast<float>(i % n) / static_cast<float>(n) * 3.0f * std::numbers::pi_v<float>;
        const float r = 0.1f + 0.9f * static_cast<float>(i % n) / static_cast<float>(n);
        const float angle = t + (i < n ? 0.0f : std::numbers::pi_v<float>);
        x.at({i, 0}) = r * std::cos(angle) + gen.normal(0.0f, 0.02f);
        x.at({i, 1}) = r * std::sin(angle) + gen.normal(0.0f, 0.02f);
        y[i] = i < n ? 0 : 1;
    }
}

// <doc:mlp-module>
struct MLP : Module {
    Linear hidden1, hidden2, out;
    MLP(std::size_t width, Generator& gen) : hidden1(2, width, gen), hidden2(width, width, gen), out(width, 2, gen) {
        register_module("hidden1", hidden1);
        register_module("hidden2", hidden2);
        register_module("out", out);
    }
    Var forward(const Var& x) const { return out.forward(tanh(hidden2.forward(tanh(hidden1.forward(x))))); }
};
// </doc:mlp-module>

static float accuracy(const MLP& model, const Tensor& x, const std::vector<std::int32_t>& y) {
    InferenceMode inference;  // evaluation: compute, record nothing, release the values at the end
    const Tensor logits = model.forward(constant(x)).value();
    std::size_t right = 0;
    for (std::size_t i = 0; i < y.size(); ++i)
        right += (logits.at({i, 1}) > logits.at({i, 0}) ? 1 : 0) == y[i];
    return static_cast<float>(right) / static_cast<float>(y.size());
}

int main(int argc, char** argv) {
    Generator gen(42);
    Tensor x;
    std::vector<std::int32_t> y;
    spirals(200, gen, x, y);

// <doc:mlp-loop>
    MLP model(32, gen);
    fmt::print("model: {} parameters in {} tensors\n", model.parameter_count(), model.named_parameters().size());
    Adam opt(model.named_parameters(), {.lr = 0.01});

    for (int step = 0; step <= 500; ++step) {
        StepScope step_scope;  // the step's values and records are released at the closing brace
        opt.zero_grad();
        Var loss = cross_entropy(model.forward(constant(x)), y);
        loss.backward();
        clip_grad_norm(opt.params(), 1.0f);
        opt.step();
        if (step % 100 == 0)
            fmt::print("step {:4}  loss {:.4f}  accuracy {:.1f}%\n", step, loss.item(), 100 * accuracy(model, x, y));
    }
// </doc:mlp-loop>
    const float final_accuracy = accuracy(model, x, y);
    if (argc > 1) {
        save_checkpoint(argv[1], model, &opt);
        fmt::print("checkpoint written to {}/\n", argv[1]);
    }
    return final_accuracy > 0.95f ? 0 : 1;
}
