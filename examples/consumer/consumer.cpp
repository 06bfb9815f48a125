// A program outside tapegrad's tree, built against its installed headers and library (or tapegrad as a
// meson subproject): its own op, its own layer, training, a checkpoint, all through the public API.
//
// The task: points of the plane, inside or outside a circle. The model: Linear -> Highway -> Linear,
// where Highway (Srivastava et al. 2015) is this file's layer and leaky_relu this file's op.
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <vector>

#include <tapegrad/tapegrad.hpp>

namespace my {
using namespace tg;

// --- an op: y = x for x > 0, slope * x otherwise; the slope is a typed attribute of the record ---
struct Slope {
    float value;
};

Var leaky_relu(const Var& x, float slope) {
    Op op("leaky_relu", {x}, x.shape());
    const float* in = x.value().data();
    float* y = op.out().data();
    for (std::size_t i = 0; i < x.numel(); ++i) y[i] = in[i] > 0.0f ? in[i] : slope * in[i];
    op.set_attrs(Slope{slope});
    return op.finish([](Record& r) {  // dy/dx = 1 or slope
        const float slope = r.attrs<Slope>().value;
        const float *x = r.input(0).data(), *dy = r.grad_out().data();
        float* dx = r.grad_in(0).data();  // add into it
        for (std::size_t i = 0; i < r.input(0).numel(); ++i) dx[i] += x[i] > 0.0f ? dy[i] : slope * dy[i];
    });
}

// --- a layer: y = t * h + (1 - t) * x, h = leaky_relu(W_h x + b_h), t = sigmoid(W_t x + b_t) ---
class Highway : public Module {
public:
    Linear transform, gate;

    Highway(std::size_t width, Generator& gen) : transform(width, width, gen), gate(width, width, gen) {
        register_module("transform", transform);
        register_module("gate", gate);
    }
    Var forward(const Var& x) const {
        Var h = leaky_relu(transform.forward(x), 0.1f);
        Var t = sigmoid(gate.forward(x));
        return t * h + (1.0f - t) * x;
    }
};

class Classifier : public Module {
public:
    Linear in;
    Highway hidden;
    Linear out;

    explicit Classifier(Generator& gen) : in(2, 16, gen), hidden(16, gen), out(16, 2, gen) {
        register_module("in", in);
        register_module("hidden", hidden);
        register_module("out", out);
    }
    Var forward(const Var& x) const { return out.forward(hidden.forward(tanh(in.forward(x)))); }
};

}  // namespace my

int main(int argc, char** argv) {
    using namespace tg;
    Generator gen(7);

    // The op and the layer are proved by gradient check before anything trusts them.
    const GradcheckResult op_check =
        gradcheck([](std::span<const Var> v) { return my::leaky_relu(v[0], 0.1f); }, {Tensor::randn({3, 5}, gen)});
    my::Highway probe(4, gen);
    const std::vector<Tensor> probe_input = {Tensor::randn({2, 4}, gen)};
    const GradcheckResult layer_check =
        gradcheck([&](std::span<const Var> v) { return probe.forward(v[0]); }, probe_input, probe.parameters());
    std::printf("gradient check: leaky_relu %s, Highway %s\n", op_check.ok ? "ok" : "FAILED",
                layer_check.ok ? "ok" : "FAILED");

    // 256 points in [-1, 1]^2, class 1 inside the circle of radius 0.6.
    const std::size_t n = 256;
    Tensor x = Tensor::uniform({n, 2}, -1.0f, 1.0f, gen);
    std::vector<std::int32_t> y(n);
    for (std::size_t i = 0; i < n; ++i) y[i] = std::hypot(x.at({i, 0}), x.at({i, 1})) < 0.6f ? 1 : 0;

    my::Classifier model(gen);
    Adam opt(model.named_parameters(), {.lr = 0.02});
    float loss_value = 0.0f;
    for (int step = 0; step <= 400; ++step) {
        StepScope step_scope;  // the step's graph is released at the closing brace
        opt.zero_grad();
        Var loss = cross_entropy(model.forward(constant(x)), y);
        loss.backward();
        opt.step();
        loss_value = loss.item();
        if (step % 100 == 0) std::printf("step %3d  loss %.4f\n", step, loss_value);
    }

    auto accuracy = [&](const Module& m) {
        InferenceMode inference;
        const Tensor scores = static_cast<const my::Classifier&>(m).forward(constant(x)).value();
        std::size_t right = 0;
        for (std::size_t i = 0; i < n; ++i) right += (scores.at({i, 1}) > scores.at({i, 0})) == (y[i] == 1);
        return static_cast<double>(right) / static_cast<double>(n);
    };
    const double trained = accuracy(model);

    // A checkpoint of the model and its optimizer, loaded into a fresh model.
    const std::filesystem::path dir = argc > 1 ? argv[1] : "consumer-checkpoint";
    save_checkpoint(dir, model, &opt);
    Generator other(99);
    my::Classifier reloaded(other);
    load_module(dir, reloaded);
    const double after_load = accuracy(reloaded);
    std::printf("accuracy %.1f%%, after reloading %s: %.1f%%\n", 100 * trained, dir.c_str(), 100 * after_load);

    const bool ok = op_check.ok && layer_check.ok && trained >= 0.95 && after_load == trained;
    std::printf("%s\n", ok ? "consumer: ok" : "consumer: FAILED");
    return ok ? 0 : 1;
}
