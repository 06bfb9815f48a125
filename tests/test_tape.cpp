// The tape: reverse sweep, accumulation, no-grad, staleness, memory reuse, inspection, anomalies.
#include <unistd.h>

#include <cstdio>
#include <thread>

#include "bench/alloc_counter.hpp"
#include "helpers.hpp"
#include "viz/tape_graph.hpp"

using namespace tg;
using tg::test::rand;

TEST_CASE("micrograd's README example gives micrograd's numbers") {
    // Reference values printed by micrograd (Python, double precision) in its README.
    Parameter a(Tensor::scalar(-4.0f), "a"), b(Tensor::scalar(2.0f), "b");
    Var c = a + b;
    Var d = a * b + b * b * b;
    c = c + c + 1.0f;
    c = c + (1.0f + c + (-a));
    d = d + (d * 2.0f + relu(b + a));
    d = d + (3.0f * d + relu(b - a));
    Var e = c - d;
    Var f = e * e;
    Var g = f / 2.0f + constant(10.0f) / f;
    g.backward();
    CHECK(g.item() == doctest::Approx(24.7041).epsilon(1e-5));
    CHECK(a.grad().item() == doctest::Approx(138.8338).epsilon(1e-5));
    CHECK(b.grad().item() == doctest::Approx(645.5773).epsilon(1e-5));
    active_tape().clear();
}

TEST_CASE("a value used several times receives the sum of its gradients") {
    Parameter x(Tensor({3}, {1, 2, 3}));
    Var y = sum(x * x + x * 3.0f + x);  // dy/dx = 2x + 4
    y.backward();
    CHECK(max_abs_diff(x.grad(), Tensor({3}, {6, 8, 10})) == 0.0f);

    // Parameters accumulate over backward calls until zero_grad(), as in PyTorch.
    active_tape().clear();
    sum(x * 2.0f).backward();
    CHECK(max_abs_diff(x.grad(), Tensor({3}, {8, 10, 12})) == 0.0f);
    x.zero_grad();
    CHECK(max_abs_diff(x.grad(), Tensor({3}, {0, 0, 0})) == 0.0f);
    active_tape().clear();
}

TEST_CASE("an op's output keeps its gradient after backward only when retain_grad() asks for it") {
    Parameter x(Tensor({2}, {0.5f, -1.0f}));
    const float h0 = std::tanh(0.5f);
    {
        Var h = tanh(x);
        sum(h * h).backward();
        CHECK_THROWS_WITH_AS(h.grad(), doctest::Contains("retain_grad()"), TapeError);  // given back
        CHECK(x.grad().at({0}) == doctest::Approx(2 * h0 * (1 - h0 * h0)));          // a leaf keeps its own
        active_tape().clear();
    }
    x.zero_grad();
    Var h = tanh(x).retain_grad();
    Var y = sum(h * h);
    y.backward();
    CHECK(h.grad().at({0}) == doctest::Approx(2 * h0));
    CHECK(x.grad().at({0}) == doctest::Approx(2 * h0 * (1 - h0 * h0)));
    CHECK(y.grad().item() == 1.0f);  // the root's seed stays readable too
    active_tape().clear();
}

TEST_CASE("NoGradGuard: values are computed, nothing is recorded") {
    Tape tape;
    TapeScope scope(tape);
    Parameter w(rand({3, 3}, 1));
    Var x = constant(rand({2, 3}, 2));
    Var with_grad = matmul(x, w);
    CHECK(tape.num_records() == 1);
    CHECK(with_grad.requires_grad());
    {
        NoGradGuard no_grad;
        CHECK_FALSE(grad_enabled());
        Var y = tanh(matmul(x, w) + 1.0f);
        CHECK(tape.num_records() == 1);  // unchanged
        CHECK_FALSE(y.requires_grad());
        CHECK(max_abs_diff(y.value(), tanh(with_grad + 1.0f).value()) == 0.0f);
        CHECK_THROWS_WITH_ALL(sum(y).backward(), TapeError, "does not require grad");
    }
    CHECK(grad_enabled());
    // Ops on constants alone record nothing either: there is nothing to differentiate.
    const std::size_t before = tape.num_records();
    Var c = exp(x) * 2.0f;
    CHECK(tape.num_records() == before);
    CHECK_FALSE(c.requires_grad());
}

TEST_CASE("reading a value after its tape was cleared throws, never reads recycled memory") {
    Tape tape;
    TapeScope scope(tape);
    Parameter w(rand({2, 2}, 3));
    Var y = tanh(w);
    CHECK(y.value().numel() == 4);
    tape.clear();
    Var z = exp(w);  // reuses y's slot
    CHECK_THROWS_WITH_ALL(y.value(), TapeError, "cleared");
    CHECK_THROWS_WITH_ALL(tanh(y), TapeError, "cleared");
    CHECK(z.value().numel() == 4);
    CHECK_THROWS_WITH_ALL(Var().value(), TapeError, "empty");
}

TEST_CASE("backward from a non-scalar needs a seed of the root's shape") {
    Tape tape;
    TapeScope scope(tape);
    Parameter x(Tensor({2, 2}, {1, 2, 3, 4}));
    Var y = x * x;
    CHECK_THROWS_WITH_ALL(y.backward(), TapeError, "[2, 2]", "not a scalar", "seed");
    CHECK_THROWS_WITH_ALL(y.backward(Tensor({3}, {1, 1, 1})), ShapeError, "[3]", "[2, 2]");
    y.backward(Tensor({2, 2}, {1, 0, 0, 2}));  // vector-Jacobian product: seed * 2x
    CHECK(max_abs_diff(x.grad(), Tensor({2, 2}, {2, 0, 0, 16})) == 0.0f);
}

TEST_CASE("errors name the op and every shape involved") {
    Tape tape;
    TapeScope scope(tape);
    Var a = constant(Tensor::zeros({2, 3})), b = constant(Tensor::zeros({4}));
    CHECK_THROWS_WITH_ALL(a + b, ShapeError, "add", "[2, 3]", "[4]");
    CHECK_THROWS_WITH_ALL(a * b, ShapeError, "mul", "[2, 3]", "[4]");
    CHECK_THROWS_WITH_ALL(matmul(a, constant(Tensor::zeros({4, 5}))), ShapeError, "matmul", "[2, 3]", "[4, 5]");
    CHECK_THROWS_WITH_ALL(matmul(constant(Tensor::zeros({2, 3, 4})), constant(Tensor::zeros({3, 4, 5}))), ShapeError,
                          "matmul", "batch", "[2, 3, 4]", "[3, 4, 5]");
    CHECK_THROWS_WITH_ALL(linear(a, constant(Tensor::zeros({4, 5}))), ShapeError, "linear", "[2, 3]", "[4, 5]");
    CHECK_THROWS_WITH_ALL(concat({a, constant(Tensor::zeros({3, 3}))}, 1), ShapeError, "concat", "[2, 3]", "[3, 3]");
    CHECK_THROWS_WITH_ALL(stack({a, constant(Tensor::zeros({2, 4}))}, 0), ShapeError, "stack", "[2, 3]", "[2, 4]");
    CHECK_THROWS_WITH_ALL(reshape(a, {4, 2}), ShapeError, "reshape", "[2, 3]", "[4, 2]");
    CHECK_THROWS_WITH_ALL(permute(a, {0, 0}), ShapeError, "permute", "[2, 3]");
    CHECK_THROWS_WITH_ALL(softmax(a, 1, b), ShapeError, "softmax", "[4]", "[2, 3]");
    CHECK_THROWS_WITH_ALL(where(a, a, b), ShapeError, "where", "[2, 3]", "[4]");
    CHECK_THROWS_WITH_ALL(cross_entropy(a, std::vector<std::int32_t>{1}), ShapeError, "cross_entropy", "[2, 3]");
    CHECK_THROWS_WITH_ALL(split(a, 1, {1, 1}), ShapeError, "split", "[2, 3]");
    // out-of-range indices and axes
    CHECK_THROWS_WITH_ALL(sum(a, 2), IndexError, "sum", "axis 2", "rank 2");
    CHECK_THROWS_WITH_ALL(slice(a, 1, 2, 5), IndexError, "slice", "[2, 5)", "[2, 3]");
    CHECK_THROWS_WITH_ALL(select(a, 0, 2), IndexError, "select", "index 2", "[2, 3]");
    CHECK_THROWS_WITH_ALL(embedding(a, std::vector<std::int32_t>{0, 2}), IndexError, "embedding", "id 2",
                          "position 1", "[2, 3]");
    CHECK_THROWS_WITH_ALL(embedding(a, std::vector<std::int32_t>{-1}), IndexError, "embedding", "id -1");
    CHECK_THROWS_WITH_ALL(cross_entropy(a, std::vector<std::int32_t>{0, 3}), IndexError, "cross_entropy",
                          "target 3", "position 1");
    CHECK_THROWS_WITH_ALL(Tensor::zeros({2, 3}).at({1, 3}), IndexError, "index 3", "axis 1", "[2, 3]");
    CHECK_THROWS_WITH_ALL(Tensor({2, 2}, {1, 2, 3}), ShapeError, "3 values", "[2, 2]");
    CHECK_THROWS_WITH_ALL(Shape(2, -1), ShapeError, "negative");
    // No half-recorded op is left behind by a failed call.
    CHECK(tape.num_records() == 0);
}

TEST_CASE("an input from another tape is refused") {
    Tape first, second;
    Parameter w(rand({2}, 4));
    Var on_first = [&] {
        TapeScope scope(first);
        return w * 2.0f;
    }();
    TapeScope scope(second);
    CHECK_THROWS_WITH_ALL(on_first + w, TapeError, "add", "different tape");
}

TEST_CASE("anomaly mode names the first op whose forward or backward makes NaN or Inf") {
    Tape tape;
    TapeScope scope(tape);
    Parameter p(Tensor({2}, {1.0f, -1.0f}));
    {
        AnomalyModeGuard anomaly;
        CHECK_THROWS_WITH_ALL(log(p), AnomalyError, "forward of 'log'", "[2]");
    }
    CHECK_NOTHROW(log(p));  // off again: NaN passes silently, as in PyTorch
    tape.clear();

    Parameter tiny(Tensor({1}, {1e-38f}));
    Var y = sum(log(tiny).label("log_tiny") * 1e30f);  // finite forward; d/dx = 1e30 / 1e-38 = inf
    AnomalyModeGuard anomaly;
    CHECK_THROWS_WITH_ALL(y.backward(), AnomalyError, "backward of 'log'", "log_tiny");
}

TEST_CASE("printing a tape and its DOT graph show ops, labels, shapes and parameter names") {
    Tape tape;
    TapeScope scope(tape);
    Parameter w(rand({3, 4}, 5), "layer.weight");
    Var x = constant(rand({2, 3}, 6));
    Var h = tanh(matmul(x, w)).label("hidden");
    Var loss = mean(h);
    const std::string text = viz::tape_text(tape);
    CHECK(text.find("#0   matmul") != std::string::npos);
    CHECK(text.find("layer.weight [3, 4]") != std::string::npos);
    CHECK(text.find("tanh         'hidden' [2, 4] <- #0 [2, 4]") != std::string::npos);
    const std::string dot = viz::tape_dot(tape);
    CHECK(dot.rfind("digraph tape {", 0) == 0);
    for (const char* part : {"matmul", "tanh\\nhidden", "mean", "layer.weight\\n[3, 4]", "const\\n[2, 3]",
                             "r0 -> r1;", "r1 -> r2;"})
        CHECK_MESSAGE(dot.find(part) != std::string::npos, part);
    CHECK(loss.shape().rank() == 0);
}

// One small training step: the loop of an MLP classifier.
static float train_step(Tape& tape, Parameter& w1, Parameter& b1, Parameter& w2, const Tensor& x,
                        const std::vector<std::int32_t>& y) {
    tape.clear();
    w1.zero_grad();
    b1.zero_grad();
    w2.zero_grad();
    Var h = tanh(matmul(constant(x), w1) + b1);
    Var logits = matmul(h, w2);
    Var loss = cross_entropy(logits, y) + 0.01f * sum(softmax(logits, 1) * logits);
    loss.backward();
    return loss.item();
}

TEST_CASE("a warmed-up training step makes no heap allocation") {
    Tape tape;
    TapeScope scope(tape);
    Parameter w1(rand({4, 8}, 7)), b1(rand({8}, 8)), w2(rand({8, 3}, 9));
    const Tensor x = rand({5, 4}, 10);
    const std::vector<std::int32_t> y = {0, 2, 1, 1, 0};
    const float first = train_step(tape, w1, b1, w2, x, y);  // warm-up: the tape grows its buffers
    const std::size_t before = tg::bench::allocations();
    const float second = train_step(tape, w1, b1, w2, x, y);
    CHECK(tg::bench::allocations() - before == 0);
    CHECK(first == second);  // same parameters, same numbers
    CHECK(tape.num_records() > 5);
}

TEST_CASE("StepScope: a training loop without clear() runs in the memory of one step") {
    Parameter w(rand({8, 8}, 3), "w");
    Tape tape;
    TapeScope scope(tape);
    Var before = constant(rand({4, 8}, 4));  // made before the loop: outlives every step
    std::size_t peak_after_first = 0;
    for (int step = 0; step < 50; ++step) {
        StepScope step_scope;
        w.zero_grad();
        Var loss = sum(tanh(matmul(before, w)));
        loss.backward();
        if (step == 0) peak_after_first = tape.arena().peak_bytes();
    }
    CHECK(tape.num_records() == 0);
    CHECK(tape.num_values() == 1);                          // `before` only
    CHECK(tape.arena().peak_bytes() == peak_after_first);  // 50 steps need what one did
    CHECK(before.value().shape() == Shape{4, 8});           // still readable
    // Scopes nest: the inner one releases only its own values.
    StepScope outer;
    Var a = tanh(before * 2.0f);
    {
        StepScope inner;
        Var b = a * a;
        CHECK(tape.num_values() == 4);
        (void)b;
    }
    CHECK(tape.num_values() == 3);
    CHECK(a.value().numel() == 32);
}

// Runs f with stderr sent to a temporary file, and returns what was written there.
template <class F>
static std::string captured_stderr(F&& f) {
    std::fflush(stderr);
    const int saved = dup(2);
    FILE* tmp = std::tmpfile();
    dup2(fileno(tmp), 2);
    f();
    std::fflush(stderr);
    dup2(saved, 2);
    close(saved);
    std::rewind(tmp);
    std::string out;
    for (int c; (c = std::fgetc(tmp)) != EOF;) out += static_cast<char>(c);
    std::fclose(tmp);
    return out;
}

TEST_CASE("a loop that never releases its tape is told so, once; accumulating a few micro-batches is not") {
    Parameter w(rand({4, 4}, 5), "w");
    const Tensor x = rand({2, 4}, 6);
    const std::string few = captured_stderr([&] {
        Tape tape;
        TapeScope scope(tape);
        for (int micro = 0; micro < 8; ++micro) sum(matmul(constant(x), w)).backward();  // one step, 8 micro-batches
    });
    CHECK(few.empty());
    const std::string loop = captured_stderr([&] {
        Tape tape;
        TapeScope scope(tape);
        for (int step = 0; step < 200; ++step) {  // the bug: no StepScope, no clear()
            w.zero_grad();
            sum(matmul(constant(x), w)).backward();
        }
    });
    CHECK(loop.find("tapegrad: warning: 64 backward passes on one tape without releasing it") != std::string::npos);
    CHECK(loop.find("warning", loop.find("warning") + 1) == std::string::npos);  // once
}

TEST_CASE("anomaly mode is per thread, like the active tape and the no-grad switch") {
    AnomalyModeGuard on;
    bool seen_by_other = true, grad_seen = false;
    std::thread([&] {
        seen_by_other = anomaly_mode();
        grad_seen = grad_enabled();
    }).join();
    CHECK(anomaly_mode());
    CHECK_FALSE(seen_by_other);
    CHECK(grad_seen);
}
