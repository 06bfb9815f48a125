// Every op's backward against finite differences (gradcheck), broadcasting in every binary op.
#include <optional>

#include "helpers.hpp"
#include "kernels/rows.hpp"

using namespace tg;
using tg::test::rand;
using tg::test::rand_away_from_zero;
using Vars = std::span<const Var>;

TEST_CASE("binary ops: gradients under every kind of broadcasting") {
    struct Case {
        Shape a, b;
    };
    const Case cases[] = {
        {{2, 3}, {2, 3}},        // same shape
        {{2, 3}, {3}},           // row vector over rows
        {{2, 1}, {1, 3}},        // both stretch
        {{4, 2, 3}, {2, 1}},     // missing leading axis and a stretched one
        {{}, {2, 3}},            // scalar
        {{3, 1, 2}, {3, 4, 2}},  // middle axis
    };
    for (const Case& c : cases) {
        CAPTURE(c.a.str());
        CAPTURE(c.b.str());
        Tensor a = rand(c.a, 1), b = rand(c.b, 2);
        Tensor b_pos = rand(c.b, 3, 0.5f, 1.5f);  // a divisor away from zero
        CHECK_GRADS([](Vars v) { return v[0] + v[1]; }, {a, b});
        CHECK_GRADS([](Vars v) { return v[0] - v[1]; }, {a, b});
        CHECK_GRADS([](Vars v) { return v[0] * v[1]; }, {a, b});
        CHECK_GRADS([](Vars v) { return v[0] / v[1]; }, {a, b_pos});
        // and with the operands swapped, so the broadcast side is the first one too
        CHECK_GRADS([](Vars v) { return v[1] * v[0]; }, {a, b});
        CHECK_GRADS([](Vars v) { return v[1] - v[0]; }, {a, b});
    }
}

TEST_CASE("binary ops: forward values broadcast like NumPy") {
    Var a = constant(Tensor({2, 1}, {1, 2}));
    Var b = constant(Tensor({3}, {10, 20, 30}));
    Tensor expect({2, 3}, {11, 21, 31, 12, 22, 32});
    CHECK(max_abs_diff((a + b).value(), expect) == 0.0f);
    Tensor quotient({2, 3}, {0.1f, 0.05f, 1.0f / 30, 0.2f, 0.1f, 2.0f / 30});
    CHECK(max_abs_diff((a / b).value(), quotient) < 1e-7f);
    active_tape().clear();
}

TEST_CASE("unary ops and scalar arithmetic") {
    Tensor x = rand({3, 4}, 4);
    CHECK_GRADS([](Vars v) { return -v[0]; }, {x});
    CHECK_GRADS([](Vars v) { return 2.5f * v[0] + 1.0f; }, {x});
    CHECK_GRADS([](Vars v) { return 1.0f - v[0] / 4.0f; }, {x});
    CHECK_GRADS([](Vars v) { return exp(v[0]); }, {x});
    CHECK_GRADS([](Vars v) { return log(v[0]); }, {rand({3, 4}, 5, 0.5f, 2.0f)});
    CHECK_GRADS([](Vars v) { return tanh(v[0]); }, {x});
    CHECK_GRADS([](Vars v) { return sigmoid(v[0]); }, {x});
    CHECK_GRADS([](Vars v) { return relu(v[0]); }, {rand_away_from_zero({3, 4}, 6)});

    // Values against the C library, element by element.
    Var y = constant(x);
    for (std::size_t i = 0; i < x.numel(); ++i) {
        const float v = x.data()[i];
        CHECK(tanh(y).value().data()[i] == doctest::Approx(std::tanh(v)).epsilon(1e-6));
        CHECK(sigmoid(y).value().data()[i] == doctest::Approx(1.0 / (1.0 + std::exp(-v))).epsilon(1e-6));
        CHECK(exp(y).value().data()[i] == doctest::Approx(std::exp(v)).epsilon(1e-6));
    }
    active_tape().clear();
}

TEST_CASE("matmul: 2-D, batched 3-D and 4-D, and 3-D by a shared matrix") {
    CHECK_GRADS([](Vars v) { return matmul(v[0], v[1]); }, {rand({3, 4}, 1), rand({4, 5}, 2)});
    CHECK_GRADS([](Vars v) { return matmul(v[0], v[1]); }, {rand({2, 3, 4}, 3), rand({2, 4, 5}, 4)});
    CHECK_GRADS([](Vars v) { return matmul(v[0], v[1]); }, {rand({2, 3, 4}, 5), rand({4, 5}, 6)});
    CHECK_GRADS([](Vars v) { return matmul(v[0], v[1]); }, {rand({2, 3, 1, 4}, 10), rand({2, 3, 4, 5}, 11)});  // heads'
    CHECK_GRADS([](Vars v) { return matmul(v[0], v[1]); }, {rand({2, 2, 3, 4}, 12), rand({4, 5}, 13)});
    {  // 4-D is the 3-D product of its leading axes flattened, value for value
        const Tensor a = rand({2, 3, 2, 4}, 14), b = rand({2, 3, 4, 5}, 15);
        const Tensor four = matmul(constant(a), constant(b)).value();
        CHECK(four.shape() == Shape{2, 3, 2, 5});
        const Tensor three = matmul(reshape(constant(a), {6, 2, 4}), reshape(constant(b), {6, 4, 5})).value();
        CHECK(std::equal(four.data(), four.data() + four.numel(), three.data()));
        CHECK_THROWS_WITH_ALL(matmul(constant(a), constant(rand({3, 2, 4, 5}, 16))), ShapeError, "batch sizes differ",
                              "[2, 3, 2, 4]", "[3, 2, 4, 5]");
        CHECK_THROWS_WITH_ALL(matmul(constant(a), constant(rand({6, 4, 5}, 16))), ShapeError, "the same leading axes");
    }

    // linear, the fused x W^T + b, in 2-D and 3-D, with and without bias ...
    CHECK_GRADS([](Vars v) { return linear(v[0], v[1], v[2]); }, {rand({3, 4}, 9), rand({5, 4}, 10), rand({5}, 11)});
    CHECK_GRADS([](Vars v) { return linear(v[0], v[1]); }, {rand({2, 3, 4}, 12), rand({5, 4}, 13)});
    // ... agrees with the composed reference
    {
        const Tensor x = rand({2, 3, 4}, 14), w = rand({5, 4}, 15), bias = rand({5}, 16);
        Var fused = linear(constant(x), constant(w), constant(bias));
        Var composed = reshape(matmul(reshape(constant(x), {6, 4}), transpose(constant(w))) + constant(bias), {2, 3, 5});
        CHECK(max_abs_diff(fused.value(), composed.value()) < 1e-6f);
    }

    // Values against a plain triple loop.
    Tensor a = rand({2, 3, 4}, 7), b = rand({2, 4, 5}, 8);
    Tensor c = matmul(constant(a), constant(b)).value();
    for (std::size_t n = 0; n < 2; ++n)
        for (std::size_t i = 0; i < 3; ++i)
            for (std::size_t j = 0; j < 5; ++j) {
                double s = 0;
                for (std::size_t k = 0; k < 4; ++k) s += double(a.at({n, i, k})) * b.at({n, k, j});
                CHECK(c.at({n, i, j}) == doctest::Approx(s).epsilon(1e-5));
            }
    active_tape().clear();
}

TEST_CASE("a product over an empty inner axis is zeros, whatever the output's memory held before") {
    // [5, 0] @ [0, 40]: every element an empty sum. The output's memory comes from the tape's arena,
    // here filled with 7s by a released value first, so an output left unwritten shows (linear once
    // counted its rows as the input's size over its features: none of 5 x 0, and returned the 7s).
    for (const bool grad : {false, true}) {
        CAPTURE(grad);
        std::optional<InferenceMode> inference;
        if (!grad) inference.emplace();
        Parameter w(Tensor({40, 0}), "w");  // (a Parameter: with grad on, the product is recorded)
        const Tape::Mark before = active_tape().mark();
        constant(Tensor::full({8, 64}, 7.0f));
        active_tape().rewind(before);
        const Var products[] = {matmul(constant(Tensor({5, 0})), constant(Tensor({0, 40}))),
                                linear(constant(Tensor({5, 0})), w.var()),
                                matmul(constant(Tensor({2, 3, 0})), constant(Tensor({2, 0, 4})))};
        for (const Var& y : products)
            for (float v : y.value().flat()) CHECK(v == 0.0f);
    }
    active_tape().clear();
}

TEST_CASE("shape ops: reshape, permute, transpose, slice, select, concat, stack, split") {
    Tensor x = rand({2, 3, 4}, 9);
    CHECK_GRADS([](Vars v) { return reshape(v[0], {4, 6}); }, {x});
    CHECK_GRADS([](Vars v) { return permute(v[0], {2, 0, 1}); }, {x});
    CHECK_GRADS([](Vars v) { return transpose(v[0]); }, {x});
    CHECK_GRADS([](Vars v) { return transpose(v[0], 0, 2); }, {x});
    CHECK_GRADS([](Vars v) { return slice(v[0], 1, 1, 3); }, {x});
    CHECK_GRADS([](Vars v) { return slice(v[0], -1, 0, 2); }, {x});
    CHECK_GRADS([](Vars v) { return select(v[0], 0, 1) * 2.0f; }, {x});
    CHECK_GRADS([](Vars v) { return select(v[0], 2, 3); }, {x});
    CHECK_GRADS([](Vars v) { return concat({v[0], v[1], v[0]}, 1); }, {x, rand({2, 2, 4}, 10)});
    CHECK_GRADS([](Vars v) { return concat({v[0], v[1]}, -1); }, {x, rand({2, 3, 1}, 11)});
    CHECK_GRADS([](Vars v) { return stack({v[0], v[1]}, 0); }, {x, rand({2, 3, 4}, 12)});
    CHECK_GRADS([](Vars v) { return stack({v[0], v[1], v[0]}, 3); }, {x, rand({2, 3, 4}, 13)});
    CHECK_GRADS(
        [](Vars v) {
            auto parts = split(v[0], 2, {1, 3});
            return parts[0] * sum(parts[1], 2, true);
        },
        {x});

    // Values: permute moves x[i,j,k] to y[k,i,j]; concat and stack place inputs in order.
    Var y = permute(constant(x), {2, 0, 1});
    CHECK(y.shape() == Shape{4, 2, 3});
    CHECK(y.value().at({3, 1, 2}) == x.at({1, 2, 3}));
    Var c = concat({constant(Tensor({1, 2}, {1, 2})), constant(Tensor({1, 1}, {3}))}, 1);
    CHECK(max_abs_diff(c.value(), Tensor({1, 3}, {1, 2, 3})) == 0.0f);
    Var s = stack({constant(Tensor({2}, {1, 2})), constant(Tensor({2}, {3, 4}))}, 1);
    CHECK(max_abs_diff(s.value(), Tensor({2, 2}, {1, 3, 2, 4})) == 0.0f);
    CHECK(select(constant(x), 1, 2).value().at({1, 3}) == x.at({1, 2, 3}));
    active_tape().clear();
}

TEST_CASE("reductions: sum, mean, max") {
    // Distinct values at least 0.05 apart, shuffled: no ties and no kinks within the check's step.
    Tensor x = Tensor::zeros({3, 4, 2});
    for (std::size_t i = 0; i < x.numel(); ++i) x.data()[i] = -0.6f + 0.05f * static_cast<float>((i * 7) % 24);
    CHECK_GRADS([](Vars v) { return sum(v[0]); }, {x});
    CHECK_GRADS([](Vars v) { return mean(v[0]); }, {x});
    for (int axis : {0, 1, 2, -1})
        for (bool keep : {false, true}) {
            CAPTURE(axis);
            CAPTURE(keep);
            CHECK_GRADS([=](Vars v) { return sum(v[0], axis, keep); }, {x});
            CHECK_GRADS([=](Vars v) { return mean(v[0], axis, keep); }, {x});
            CHECK_GRADS([=](Vars v) { return max(v[0], axis, keep); }, {x});
        }
    Var m = max(constant(Tensor({2, 3}, {1, 5, 2, 7, 0, 9})), 1);
    CHECK(max_abs_diff(m.value(), Tensor({2}, {5, 9})) == 0.0f);
    Var s = sum(constant(Tensor({2, 3}, {1, 5, 2, 7, 0, 9})), 0, true);
    CHECK(s.shape() == Shape{1, 3});
    CHECK(max_abs_diff(s.value(), Tensor({1, 3}, {8, 5, 11})) == 0.0f);
    CHECK(mean(constant(Tensor({4}, {1, 2, 3, 6}))).item() == 3.0f);
    active_tape().clear();
}

TEST_CASE("softmax and log_softmax, with and without a mask") {
    Tensor x = rand({3, 5}, 15, -2.0f, 2.0f);
    for (int axis : {0, 1}) {
        CAPTURE(axis);
        CHECK_GRADS([=](Vars v) { return softmax(v[0], axis); }, {x});
        CHECK_GRADS([=](Vars v) { return log_softmax(v[0], axis); }, {x});
    }
    // A padding mask per row, broadcast from [3, 5]; one row with a single valid position.
    Tensor valid({3, 5}, {1, 1, 1, 0, 0, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0});
    CHECK_GRADS([&](Vars v) { return softmax(v[0], 1, constant(valid)); }, {x});
    Tensor invalid = Tensor::zeros({3, 5});
    for (std::size_t i = 0; i < valid.numel(); ++i) invalid.data()[i] = 1.0f - valid.data()[i];
    // Masked positions of log_softmax are -inf; masked_fill sets them to 0 so they add nothing.
    CHECK_GRADS([&](Vars v) { return masked_fill(log_softmax(v[0], 1, constant(valid)), constant(invalid), 0.0f); },
                {x});

    // Values: against a double-precision softmax; masked positions exactly 0.
    Var y = softmax(constant(x), 1, constant(valid));
    for (std::size_t r = 0; r < 3; ++r) {
        double z = 0;
        for (std::size_t c = 0; c < 5; ++c) z += valid.at({r, c}) * std::exp(double(x.at({r, c})));
        for (std::size_t c = 0; c < 5; ++c) {
            const double expect = valid.at({r, c}) ? std::exp(double(x.at({r, c}))) / z : 0.0;
            CHECK(y.value().at({r, c}) == doctest::Approx(expect).epsilon(1e-6));
            if (!valid.at({r, c})) CHECK(y.value().at({r, c}) == 0.0f);
        }
    }
    // Stable for huge logits, and a fully masked row gives zeros, not NaN.
    Var big = softmax(constant(Tensor({1, 3}, {1000, 1001, 1002})), 1);
    CHECK(big.value().at({0, 2}) == doctest::Approx(0.66524096).epsilon(1e-6));
    Var none = softmax(constant(Tensor({1, 2}, {1, 2})), 1, constant(Tensor({1, 2}, {0, 0})));
    CHECK(none.value().at({0, 0}) == 0.0f);
    CHECK(none.value().at({0, 1}) == 0.0f);
    active_tape().clear();
}

TEST_CASE("cross_entropy: ignored targets and the mean over counted tokens") {
    Tensor logits = rand({4, 6}, 16, -2.0f, 2.0f);
    const std::vector<std::int32_t> targets = {2, 0, 5, 0};
    CHECK_GRADS([&](Vars v) { return cross_entropy(v[0], targets, /*ignore_index=*/0); }, {logits});
    CHECK_GRADS([&](Vars v) { return cross_entropy(v[0], targets); }, {logits});

    // Value: rows 0 and 2 count (targets 2 and 5); rows 1 and 3 are ignored.
    auto nll = [&](std::size_t r, std::size_t t) {
        double z = 0;
        for (std::size_t c = 0; c < 6; ++c) z += std::exp(double(logits.at({r, c})));
        return std::log(z) - logits.at({r, t});
    };
    Var loss = cross_entropy(constant(logits), targets, 0);
    CHECK(loss.item() == doctest::Approx((nll(0, 2) + nll(2, 5)) / 2).epsilon(1e-6));
    CHECK(cross_entropy(constant(logits), std::vector<std::int32_t>{0, 0, 0, 0}, 0).item() == 0.0f);

    // Label smoothing e: (1 - e) nll + e mean_c (-log p[c]), by hand; e = 1 is the uniform target alone.
    auto mean_nll = [&](std::size_t r) {
        double m = 0;
        for (std::size_t c = 0; c < 6; ++c) m += nll(r, c) / 6;
        return m;
    };
    for (const float e : {0.25f, 1.0f}) {
        CAPTURE(e);
        CHECK_GRADS([&](Vars v) { return cross_entropy(v[0], targets, 0, e); }, {logits});
        const double want = ((1 - e) * (nll(0, 2) + nll(2, 5)) + e * (mean_nll(0) + mean_nll(2))) / 2;
        CHECK(cross_entropy(constant(logits), targets, 0, e).item() == doctest::Approx(want).epsilon(1e-6));
    }
    CHECK_THROWS_WITH_ALL(cross_entropy(constant(logits), targets, 0, 1.5f), Error, "cross_entropy", "label_smoothing 1.5",
                          "[4, 6]");
    active_tape().clear();
}

TEST_CASE("cross_entropy on rows of 37 classes (SIMD registers and a scalar tail), used twice, against doubles") {
    Tensor logits = rand({5, 37}, 21, -4.0f, 4.0f);
    logits.at({3, 7}) = 60.0f;  // a large logit: the shift by the row's maximum keeps exp finite
    const std::vector<std::int32_t> targets = {36, 0, 17, 7, 8};  // row 1 ignored (0)
    CHECK_GRADS([&](Vars v) { return cross_entropy(v[0], targets, 0); }, {logits});
    // Used twice: the second backward adds to the first's gradient instead of writing it.
    CHECK_GRADS([&](Vars v) { return cross_entropy(v[0], targets, 0) + 0.5f * cross_entropy(v[0], targets, 0); }, {logits});

    Parameter x(logits);
    Var loss = cross_entropy(x, targets, 0);
    loss.backward();
    double expected_loss = 0;
    for (std::size_t r = 0; r < 5; ++r) {
        if (targets[r] == 0) {
            for (std::size_t c = 0; c < 37; ++c) CHECK(x.grad().at({r, c}) == 0.0f);
            continue;
        }
        double m = -1e300, z = 0;
        for (std::size_t c = 0; c < 37; ++c) m = std::max(m, double(logits.at({r, c})));
        for (std::size_t c = 0; c < 37; ++c) z += std::exp(double(logits.at({r, c})) - m);
        const double lse = m + std::log(z);
        expected_loss += (lse - logits.at({r, std::size_t(targets[r])})) / 4;
        for (std::size_t c = 0; c < 37; ++c) {
            const double p = std::exp(double(logits.at({r, c})) - lse);
            const double g = (p - (c == std::size_t(targets[r]) ? 1.0 : 0.0)) / 4;
            CHECK(x.grad().at({r, c}) == doctest::Approx(g).epsilon(1e-5).scale(1e-6));
        }
    }
    CHECK(loss.item() == doctest::Approx(expected_loss).epsilon(1e-6));
    // The same log-sum-exp for plain rows (decoders): row 3 holds the large logit.
    double m = -1e300, z = 0;
    for (std::size_t c = 0; c < 37; ++c) m = std::max(m, double(logits.at({3, c})));
    for (std::size_t c = 0; c < 37; ++c) z += std::exp(double(logits.at({3, c})) - m);
    CHECK(log_sum_exp({logits.data() + 3 * 37, 37}) == doctest::Approx(m + std::log(z)).epsilon(1e-6));
    CHECK(log_sum_exp({logits.data(), 1}) == logits.at({0, 0}));
    active_tape().clear();
}

TEST_CASE("argmax of a row: the first largest value, as std::max_element, at every length and position") {
    for (std::size_t n : {1, 7, 8, 9, 31, 64, 1000}) {
        const Tensor t = rand({n}, n);
        std::vector<float> row(t.flat().begin(), t.flat().end());
        CHECK(argmax(row) == std::size_t(std::max_element(row.begin(), row.end()) - row.begin()));
        row[n - 1] = 5.0f;  // the largest in the tail, past the vector lanes
        CHECK(argmax(row) == n - 1);
        row[n / 2] = 5.0f;  // a tie: the first one wins
        CHECK(argmax(row) == n / 2);
    }
    CHECK(argmax({}) == 0);
}

TEST_CASE("top_k of a row: the k largest, largest first, equal values in order of position, at every length") {
    Generator g(77);
    std::vector<std::pair<float, std::int32_t>> got;
    for (std::size_t n = 0; n <= 70; ++n)  // scalar heads and tails, whole registers, rows shorter than k
        for (std::size_t k : {std::size_t{1}, std::size_t{3}, std::size_t{5}, std::size_t{80}}) {
            CAPTURE(n);
            CAPTURE(k);
            std::vector<float> row(n);
            for (float& v : row) v = std::round(g.uniform(-4.0f, 4.0f));  // few distinct values: many ties
            std::vector<std::pair<float, std::int32_t>> want;  // the reference: sort everything
            for (std::size_t c = 0; c < n; ++c) want.emplace_back(row[c], static_cast<std::int32_t>(c));
            std::stable_sort(want.begin(), want.end(), [](const auto& a, const auto& b) { return a.first > b.first; });
            want.resize(std::min(k, n));
            top_k(row, k, got);
            CHECK(got == want);
        }
    // a candidate in the middle of a register, after the first k
    std::vector<float> row(40, 0.0f);
    row[3] = 1.0f, row[21] = 5.0f, row[22] = 2.0f;
    top_k(row, 2, got);
    CHECK(got == std::vector<std::pair<float, std::int32_t>>{{5.0f, 21}, {2.0f, 22}});
}

TEST_CASE("index_select: slices by index along any axis, scatter-add for repeated indices") {
    const Tensor x = rand({3, 4, 2}, 50);
    const std::vector<std::int32_t> rows = {2, 0, 2, 2, 1}, mid = {3, 3, 0};
    CHECK_GRADS([&](Vars v) { return index_select(v[0], 0, rows); }, {x});
    CHECK_GRADS([&](Vars v) { return index_select(v[0], 1, mid); }, {x});
    CHECK_GRADS([&](Vars v) { return index_select(v[0], -1, std::vector<std::int32_t>{1, 0, 1}); }, {x});
    // Values, by the definition
    const Tensor a = index_select(constant(x), 0, rows).value(), b = index_select(constant(x), 1, mid).value();
    CHECK(a.shape() == Shape{5, 4, 2});
    CHECK(b.shape() == Shape{3, 3, 2});
    for (std::size_t p = 0; p < rows.size(); ++p)
        for (std::size_t j = 0; j < 4; ++j)
            for (std::size_t k = 0; k < 2; ++k) CHECK(a.at({p, j, k}) == x.at({std::size_t(rows[p]), j, k}));
    for (std::size_t i = 0; i < 3; ++i)
        for (std::size_t p = 0; p < mid.size(); ++p)
            for (std::size_t k = 0; k < 2; ++k) CHECK(b.at({i, p, k}) == x.at({i, std::size_t(mid[p]), k}));
    CHECK_THROWS_WITH_ALL(index_select(constant(x), 1, std::vector<std::int32_t>{4}), IndexError, "index_select",
                          "index 4", "[3, 4, 2]", "axis 1");
    CHECK_THROWS_WITH_ALL(index_select(constant(x), 3, rows), IndexError, "index_select", "axis 3");
    active_tape().clear();
}

TEST_CASE("embedding: rows by id, scatter-add for repeated ids") {
    Tensor w = rand({5, 3}, 17);
    const std::vector<std::int32_t> ids = {4, 1, 4, 0, 2, 4};
    CHECK_GRADS([&](Vars v) { return embedding(v[0], ids, {2, 3}); }, {w});
    Var e = embedding(constant(w), ids, {2, 3});
    CHECK(e.shape() == Shape{2, 3, 3});
    CHECK(e.value().at({1, 0, 2}) == w.at({0, 2}));

    // The row used three times gets three gradients.
    Parameter p(w);
    sum(embedding(p, ids, {2, 3})).backward();
    CHECK(p.grad().at({4, 1}) == 3.0f);
    CHECK(p.grad().at({3, 1}) == 0.0f);
    active_tape().clear();
}

TEST_CASE("where and masked_fill") {
    Tensor cond({2, 3}, {1, 0, 1, 0, 0, 1});
    CHECK_GRADS([&](Vars v) { return where(constant(cond), v[0], v[1]); }, {rand({2, 3}, 18), rand({3}, 19)});
    CHECK_GRADS([&](Vars v) { return masked_fill(v[0], constant(cond), -5.0f) * v[0]; }, {rand({2, 3}, 20)});
    Var m = masked_fill(constant(Tensor({2, 3}, {1, 2, 3, 4, 5, 6})), constant(Tensor({3}, {0, 1, 0})), 0.5f);
    CHECK(max_abs_diff(m.value(), Tensor({2, 3}, {1, 0.5f, 3, 4, 0.5f, 6})) == 0.0f);
    active_tape().clear();
}

TEST_CASE("a composite: one GRU step (reset-after form) written from ops") {
    // h' = (1 - z) * n + z * h, with r, z, n from stacked [r; z; n] projections: every op together.
    CHECK_GRADS(
        [](Vars v) {
            const Var &x = v[0], &h = v[1], &w_ih = v[2], &w_hh = v[3], &b = v[4];
            Var gi = matmul(x, transpose(w_ih)) + b;
            Var gh = matmul(h, transpose(w_hh));
            auto i = split(gi, 1, {4, 4, 4});
            auto g = split(gh, 1, {4, 4, 4});
            Var r = sigmoid(i[0] + g[0]);
            Var z = sigmoid(i[1] + g[1]);
            Var n = tanh(i[2] + r * g[2]);
            return (1.0f - z) * n + z * h;
        },
        {rand({2, 3}, 21), rand({2, 4}, 22), rand({12, 3}, 23), rand({12, 4}, 24), rand({12}, 25)});
}

TEST_CASE("dropout: kept elements scaled by 1/(1-p), the rest 0, and the gradient through the same mask") {
    // A fresh generator of the same seed in every call, so that gradcheck sees one function.
    CHECK_GRADS([](Vars x) { Generator g(5); return dropout(x[0], 0.3f, g); }, {rand({3, 7}, 50)});
    CHECK_GRADS([](Vars x) { Generator g(5); return dropout(x[0], 0.3f, g) * dropout(x[0], 0.5f, g); }, {rand({3, 7}, 51)});

    // Values by hand: every output is x / (1 - p) or 0, and the gradient of sum(y) is exactly that factor.
    const Tensor x = rand({101, 99}, 52);  // odd: the last element takes its own draw
    Tape tape;
    TapeScope scope(tape);
    Parameter px(x);
    Generator gen(9);
    const float p = 0.25f;
    Var y = dropout(px, p, gen);
    sum(y).backward();
    std::size_t dropped = 0;
    for (std::size_t i = 0; i < x.numel(); ++i) {
        const float v = y.value().data()[i], g = px.grad().data()[i];
        if (v == 0.0f) {
            ++dropped;
            CHECK(g == 0.0f);
        } else {
            CHECK(v == x.data()[i] * (1.0f / 0.75f));
            CHECK(g == 1.0f / 0.75f);
        }
    }
    // 9,999 draws of probability 0.25: the count is within 5 standard deviations (43) of 2,500
    CHECK(dropped > 2500 - 5 * 43);
    CHECK(dropped < 2500 + 5 * 43);
    // the generator moved on: a second call drops other elements; the same seed, the same ones
    Generator again(9);
    CHECK(max_abs_diff(dropout(constant(x), p, again).value(), y.value()) == 0.0f);
    CHECK(max_abs_diff(dropout(constant(x), p, gen).value(), y.value()) > 0.0f);
    // p = 0 is x itself; p outside [0, 1) is refused, naming the op
    CHECK(max_abs_diff(dropout(constant(x), 0.0f, gen).value(), x) == 0.0f);
    CHECK_THROWS_WITH_ALL(dropout(constant(x), 1.0f, gen), Error, "dropout", "p = 1");
    CHECK_THROWS_WITH_ALL(dropout(constant(x), -0.1f, gen), Error, "dropout");
}


