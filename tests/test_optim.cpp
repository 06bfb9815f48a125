// Optimizers, clipping and schedules against PyTorch (fixtures from make_fixtures.py).
#include <functional>
#include <memory>

#include "helpers.hpp"
#include "tapegrad.hpp"

using namespace tg;
using tg::test::fixture;

namespace {

struct Two {
    Parameter a{fixture("optimizers", "start.a"), "a"};
    Parameter b{fixture("optimizers", "start.b"), "b"};
    NamedParameters named() { return {{"a", &a}, {"b", &b}}; }
};

// Five steps with the fixture's gradients; each step's parameters must match PyTorch's.
void check_against_torch(const std::string& name, const std::function<std::unique_ptr<Optimizer>(NamedParameters)>& make) {
    CAPTURE(name);
    Two p;
    auto opt = make(p.named());
    for (int t = 0; t < 5; ++t) {
        CAPTURE(t);
        p.a.grad() = fixture("optimizers", "grad" + std::to_string(t) + ".a");
        p.b.grad() = fixture("optimizers", "grad" + std::to_string(t) + ".b");
        opt->step();
        const std::string prefix = name + ".step" + std::to_string(t);
        CHECK_CLOSE(p.a.value(), fixture("optimizers", prefix + ".a"));
        CHECK_CLOSE(p.b.value(), fixture("optimizers", prefix + ".b"));
    }
    CHECK(opt->steps() == 5);
}

}  // namespace

TEST_CASE("Adam, AdamW, SGD and Adadelta follow PyTorch step for step") {
    check_against_torch("adam", [](NamedParameters ps) { return std::make_unique<Adam>(ps, AdamOptions{.lr = 1e-2}); });
    check_against_torch("adam_wd", [](NamedParameters ps) {
        return std::make_unique<Adam>(ps, AdamOptions{.lr = 1e-2, .weight_decay = 0.1});
    });
    check_against_torch("adamw", [](NamedParameters ps) {
        return std::make_unique<AdamW>(ps, AdamWOptions{.lr = 1e-2, .weight_decay = 0.1});
    });
    check_against_torch("sgd_momentum", [](NamedParameters ps) {
        return std::make_unique<SGD>(ps, SGDOptions{.lr = 0.1, .momentum = 0.9, .weight_decay = 0.01});
    });
    check_against_torch("sgd_nesterov", [](NamedParameters ps) {
        return std::make_unique<SGD>(ps, SGDOptions{.lr = 0.1, .momentum = 0.9, .nesterov = true});
    });
    check_against_torch("adadelta", [](NamedParameters ps) { return std::make_unique<Adadelta>(ps); });
}

TEST_CASE("clip_grad_norm: PyTorch's semantics, returns the norm before clipping") {
    for (const char* c : {"clip", "noclip"}) {
        CAPTURE(c);
        Parameter a(Tensor::zeros({4, 3})), b(Tensor::zeros({5}));
        a.grad() = fixture(c, "grad_a");
        b.grad() = fixture(c, "grad_b");
        const float norm = clip_grad_norm(std::vector<Parameter*>{&a, &b}, fixture(c, "max_norm").item());
        CHECK(norm == doctest::Approx(fixture(c, "norm").item()).epsilon(1e-6));
        CHECK_CLOSE(a.grad(), fixture(c, "clipped_a"));
        CHECK_CLOSE(b.grad(), fixture(c, "clipped_b"));
    }
}

TEST_CASE("learning-rate schedules: step decay and linear warm-up, as torch's StepLR and LinearLR") {
    Parameter p(Tensor::zeros({1}));
    SGD opt({{"p", &p}}, {.lr = 0.1});
    StepDecay decay(opt, 2, 0.5);
    std::vector<double> seen = {opt.lr()};
    for (int i = 0; i < 4; ++i) {
        decay.step();
        seen.push_back(opt.lr());
    }
    CHECK(seen == std::vector<double>{0.1, 0.1, 0.05, 0.05, 0.025});

    SGD opt2({{"p", &p}}, {.lr = 1.0});
    LinearWarmup warm(opt2, 4, 0.2);
    CHECK(opt2.lr() == doctest::Approx(0.2));
    warm.step();
    CHECK(opt2.lr() == doctest::Approx(0.4));
    for (int i = 0; i < 5; ++i) warm.step();
    CHECK(opt2.lr() == doctest::Approx(1.0));
}

TEST_CASE("an optimizer trains: a small MLP learns XOR with Adam") {
    Generator gen(3);
    struct MLP : Module {
        Linear l1, l2;
        explicit MLP(Generator& g) : l1(2, 8, g), l2(8, 2, g) {
            register_module("l1", l1);
            register_module("l2", l2);
        }
        Var forward(const Var& x) const { return l2.forward(tanh(l1.forward(x))); }
    } mlp(gen);
    const Tensor x({4, 2}, {0, 0, 0, 1, 1, 0, 1, 1});
    const std::vector<std::int32_t> y = {0, 1, 1, 0};
    Adam opt(mlp.named_parameters(), {.lr = 0.05});
    Tape tape;
    TapeScope scope(tape);
    float first = 0, last = 0;
    for (int step = 0; step < 200; ++step) {
        tape.clear();
        opt.zero_grad();
        Var loss = cross_entropy(mlp.forward(constant(x)), y);
        loss.backward();
        clip_grad_norm(opt.params(), 1.0f);
        opt.step();
        (step == 0 ? first : last) = loss.item();
    }
    CHECK(first > 0.5f);
    CHECK(last < 0.05f);
}

TEST_CASE("one learning rate: setting options.lr or set_lr() changes the next step") {
    // One Adam step moves each weight by lr * m_hat / (sqrt(v_hat) + eps) = lr * sign(g) (to 1e-8):
    // after setting the rate to 0.5 through options, a weight at 1 with gradient 2 lands at 0.5.
    Parameter p(Tensor({1}, {1.0f}));
    Adam opt({{"p", &p}}, {.lr = 0.1});
    opt.options.lr = 0.5;
    CHECK(opt.lr() == 0.5);
    p.grad() = Tensor({1}, {2.0f});
    opt.step();
    CHECK(p.value().item() == doctest::Approx(0.5f).epsilon(1e-6));
    opt.set_lr(0.25);
    CHECK(opt.options.lr == 0.25);
    opt.step();  // m_hat = 2, v_hat = 4 again (same gradient): moves by exactly the rate
    CHECK(p.value().item() == doctest::Approx(0.25f).epsilon(1e-6));
    CHECK_THROWS_AS(opt.set_lr(-1.0), Error);
}

TEST_CASE("AdamW keeps PyTorch's default weight decay (1e-2) when only the rate is given") {
    AdamW opt({}, {.lr = 3e-4});
    CHECK(opt.options.weight_decay == 1e-2);
    CHECK(opt.options.lr == 3e-4);
    // Decoupled decay with a zero gradient: w *= 1 - lr * wd, nothing else (m = v = 0).
    Parameter p(Tensor({1}, {1.0f}));
    AdamW opt2({{"p", &p}}, {.lr = 0.1});
    p.grad() = Tensor({1}, {0.0f});
    opt2.step();
    CHECK(p.value().item() == doctest::Approx(1.0f - 0.1f * 0.01f).epsilon(1e-7));
}
