// Each kernel of kernels/ against its reference, over the shapes that break kernels: the matrix
// products (ours for AVX-512, and kernels::gemm with gradients on and off, its thin paths included)
// against a product computed here in double precision, over every transpose, both betas, leading
// dimensions wider than the matrices, sizes that end inside a tile, a K-slice, an A block and a B
// block, and two threads; the SIMD rows against plain loops over lengths around a register's width.
// Built only with the kernels (the reference build has none to compare).
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include <functional>

#include "autograd/ops.hpp"
#include "autograd/random.hpp"
#include "autograd/tape.hpp"
#include "helpers.hpp"
#include "kernels/kernels.hpp"
#include "kernels/rows.hpp"
#include "kernels/simd.hpp"
#include "kernels/threads.hpp"

using namespace tg;
using tg::test::rand;
using Vars = std::span<const Var>;

namespace {
struct Sizes {
    std::size_t m, n, k;
};

using Product = std::function<void(const float*, bool, std::size_t, const float*, bool, std::size_t, float*, std::size_t,
                                  std::size_t, std::size_t, std::size_t, float)>;

void check_product(const Product& product) {
    // Tiles are 12 x 32, K-slices 256, A blocks 144 rows, B blocks 4,096 columns; one row and a k of
    // one take the thin path (whose dot products read A's row 256 at a time).
    const std::vector<Sizes> sizes = {{1, 1, 1},   {12, 32, 5},   {13, 33, 1},    {11, 31, 257}, {150, 40, 520},
                                      {24, 64, 256}, {13, 4100, 260}, {32, 384, 128}, {5, 3, 0}, {300, 100, 300},
                                      {1, 70, 45}, {40, 70, 1}, {1, 20, 600}, {1, 20, 16}, {1, 100, 7}};
    Generator gen(11);
    constexpr std::size_t pad = 3;  // every leading dimension is 3 wider than its matrix
    // Two threads split a large product (13 x 4,100 by columns, 300 x 100 by rows) into pieces.
    for (const int threads : {1, 2})
    for (const Sizes& s : sizes)
        for (const bool ta : {false, true})
            for (const bool tb : {false, true})
                for (const float beta : {0.0f, 1.0f}) {
                    set_num_threads(threads);
                    CAPTURE(threads);
                    CAPTURE(s.m);
                    CAPTURE(s.n);
                    CAPTURE(s.k);
                    CAPTURE(ta);
                    CAPTURE(tb);
                    CAPTURE(beta);
                    const std::size_t a_rows = ta ? s.k : s.m, a_cols = ta ? s.m : s.k;
                    const std::size_t b_rows = tb ? s.n : s.k, b_cols = tb ? s.k : s.n;
                    const std::size_t lda = a_cols + pad, ldb = b_cols + pad, ldc = s.n + pad;
                    std::vector<float> a(a_rows * lda), b(b_rows * ldb), c(s.m * ldc);
                    for (float& x : a) x = gen.uniform(-1.0f, 1.0f);
                    for (float& x : b) x = gen.uniform(-1.0f, 1.0f);
                    for (float& x : c) x = gen.uniform(-1.0f, 1.0f);
                    for (std::size_t i = 0; i < s.m; ++i)  // beta 0 must not read C: NaNs there
                        for (std::size_t j = 0; j < s.n && beta == 0.0f; ++j) c[i * ldc + j] = std::numeric_limits<float>::quiet_NaN();
                    const std::vector<float> before = c;
                    auto op_a = [&](std::size_t i, std::size_t p) { return double(ta ? a[p * lda + i] : a[i * lda + p]); };
                    auto op_b = [&](std::size_t p, std::size_t j) { return double(tb ? b[j * ldb + p] : b[p * ldb + j]); };
                    product(a.data(), ta, lda, b.data(), tb, ldb, c.data(), ldc, s.m, s.n, s.k, beta);
                    std::size_t wrong = 0, touched = 0;
                    for (std::size_t i = 0; i < s.m; ++i) {
                        for (std::size_t j = 0; j < s.n; ++j) {
                            double want = beta == 0.0f ? 0.0 : double(before[i * ldc + j]), scale = std::abs(want);
                            for (std::size_t p = 0; p < s.k; ++p) {
                                want += op_a(i, p) * op_b(p, j);
                                scale += std::abs(op_a(i, p) * op_b(p, j));
                            }
                            // float's rounding on a sum of k terms: a few ulps of the sum of magnitudes
                            wrong += !(std::abs(double(c[i * ldc + j]) - want) <= 1e-6 * (scale + 1.0));
                        }
                        for (std::size_t j = s.n; j < ldc; ++j) touched += c[i * ldc + j] != before[i * ldc + j];
                    }
                    CHECK(wrong == 0);
                    CHECK(touched == 0);  // nothing written between a row's end and the next row
                    set_num_threads(1);
                }
}
}  // namespace

TEST_CASE("kernels: our AVX-512 product equals a double-precision product: transposes, betas, edges and blocks") {
#if defined(__x86_64__)
    // Chosen at run time, in a portable build (-Dnative=false) as in a native one: where the CPU has it.
    __builtin_cpu_init();
    CHECK(kernels::own_gemm_available() == (__builtin_cpu_supports("avx512f") != 0));
#endif
    if (!kernels::own_gemm_available()) {
        MESSAGE("this CPU has no AVX-512: OpenBLAS does every product");
    }
    check_product(kernels::own_gemm);  // OpenBLAS's, then: the same contract
}

TEST_CASE("kernels: gemm, while training (OpenBLAS) and while decoding, equals a double-precision product") {
    check_product(kernels::gemm);
    NoGradGuard decoding;
    check_product(kernels::gemm);
}

TEST_CASE("kernels: the SIMD rows equal plain loops, over lengths around a register's width") {
    Generator gen(5);
    for (const std::size_t n : {1, 7, 15, 16, 17, 31, 33, 100}) {
        CAPTURE(n);
        std::vector<float> x(n), out(n, 0.5f), want(n, 0.5f);
        for (float& v : x) v = gen.uniform(-30.0f, 30.0f);
        float m = x[0], sum = 0.0f;
        double z = 0.0;
        for (float v : x) m = std::max(m, v), sum += v;
        for (float v : x) z += std::exp(double(v) - m);
        CHECK(kernels::max_of(x.data(), n) == m);
        CHECK(kernels::sum_of(x.data(), n) == doctest::Approx(sum).epsilon(1e-5));
        CHECK(kernels::log_sum_exp(x.data(), n) == doctest::Approx(m + std::log(z)).epsilon(1e-6));
        CHECK(log_sum_exp(x, m) == doctest::Approx(m + std::log(z)).epsilon(1e-6));  // the largest known
        kernels::add_scaled_exp(x.data(), m, 0.25f, out.data(), n, 0.125f);
        for (std::size_t c = 0; c < n; ++c) want[c] += 0.25f * std::exp(x[c] - m) - 0.125f;
        for (std::size_t c = 0; c < n; ++c) CHECK(out[c] == doctest::Approx(want[c]).epsilon(1e-5));
        std::vector<float> e(x);
        e[n / 2] = -std::numeric_limits<float>::infinity();  // a masked position: exp gives 0
        double total = 0.0;
        for (std::size_t c = 0; c < n; ++c) total += std::exp(double(e[c]) - m);
        for (float& v : e) v -= m;
        CHECK(kernels::exp_in_place(e.data(), n) == doctest::Approx(total).epsilon(1e-5));
        CHECK(e[n / 2] == 0.0f);
        for (std::size_t c = 0; c < n; ++c)
            if (c != n / 2) CHECK(e[c] == doctest::Approx(std::exp(double(x[c]) - m)).epsilon(1e-5));
        std::vector<std::pair<float, std::int32_t>> top;
        top_k(x, 3, top);
        std::vector<std::pair<float, std::int32_t>> sorted;
        for (std::size_t c = 0; c < n; ++c) sorted.emplace_back(x[c], static_cast<std::int32_t>(c));
        std::stable_sort(sorted.begin(), sorted.end(), [](auto& a, auto& b) { return a.first > b.first; });
        sorted.resize(std::min<std::size_t>(3, n));
        CHECK(top == sorted);
    }
}

TEST_CASE("kernels: every SIMD table this CPU runs equals plain loops (a portable build has one per instruction set)") {
    const auto tables = kernels::simd::all_rows();
    REQUIRE(!tables.empty());
    CHECK(&kernels::simd::rows() == tables.front());  // the widest is the one used
    Generator gen(11);
    for (const kernels::simd::Rows* t : tables) {
        const std::string name = t->name;
        CAPTURE(name);
        MESSAGE("SIMD table " << std::string(t->name) << ", " << t->width << " floats a register");
        for (const std::size_t n : {1, 3, 4, 5, 7, 8, 9, 15, 16, 17, 31, 33, 100}) {
            CAPTURE(n);
            std::vector<float> x(n), out(n, 0.5f);
            for (float& v : x) v = gen.uniform(-30.0f, 30.0f);
            double m = x[0], sum = 0.0, z = 0.0;
            for (float v : x) m = std::max<double>(m, v), sum += v;
            for (float v : x) z += std::exp(double(v) - m);
            CHECK(t->max_of(x.data(), n) == float(m));
            CHECK(t->sum_of(x.data(), n) == doctest::Approx(sum).epsilon(1e-5));
            CHECK(t->log_sum_exp_shifted(x.data(), n, float(m)) == doctest::Approx(m + std::log(z)).epsilon(1e-6));
            t->add_scaled_exp(x.data(), float(m), 0.25f, out.data(), n, 0.125f);
            for (std::size_t c = 0; c < n; ++c) CHECK(out[c] == doctest::Approx(0.5 + 0.25 * std::exp(x[c] - m) - 0.125).epsilon(1e-5));
            std::vector<float> e(x);
            for (float& v : e) v -= float(m);
            CHECK(t->exp_in_place(e.data(), n) == doctest::Approx(z).epsilon(1e-5));
            for (std::size_t c = 0; c < n; ++c) CHECK(e[c] == doctest::Approx(std::exp(double(x[c]) - m)).epsilon(1e-5));
            const std::size_t last = n - 1;  // find_equal: the first match at or after `from`, n if none
            CHECK(t->find_equal(x.data(), 0, n, x[last]) == std::size_t(std::find(x.begin(), x.end(), x[last]) - x.begin()));
            CHECK(t->find_equal(x.data(), 0, n, 1000.0f) == n);
            // find_register_above: from 0, the first register start holding a value above the bound
            const float bound = x[last] - 0.5f;
            std::size_t want = 0;
            while (want + t->width <= n && std::none_of(x.begin() + long(want), x.begin() + long(want + t->width), [&](float v) { return v > bound; }))
                want += t->width;
            CHECK(t->find_register_above(x.data(), 0, n, bound) == want);
            std::vector<float> y(n);  // the thin products' rows: y + (0.75, -0.5) [x; y], and x . y in double
            for (float& v : y) v = gen.uniform(-2.0f, 2.0f);
            double dot = 0.0;
            for (std::size_t c = 0; c < n; ++c) dot += double(x[c]) * y[c];
            std::vector<float> xy(x);  // x and y as the two rows of a matrix
            xy.insert(xy.end(), y.begin(), y.end());
            const float a[2] = {0.75f, -0.5f};
            std::vector<float> times(y);
            t->row_times(a, xy.data(), n, times.data(), n, 2);
            for (std::size_t c = 0; c < n; ++c) CHECK(times[c] == doctest::Approx(y[c] + 0.75 * x[c] - 0.5 * y[c]).epsilon(1e-6).scale(30.0));
            CHECK(t->dot(x.data(), y.data(), n) == doctest::Approx(dot).epsilon(1e-5).scale(30.0 * double(n)));
        }
        for (const std::size_t H : {std::size_t{3}, std::size_t{21}, std::size_t{40}}) {  // tails only; registers and a tail
            CAPTURE(H);
            std::vector<float> gi(3 * H), gh(3 * H), h(H), d(H), saved(4 * H), h_new(H);
            for (auto* v : {&gi, &gh, &h, &d})
                for (float& f : *v) f = gen.uniform(-2.0f, 2.0f);
            t->gates_row(H, gi.data(), gh.data(), h.data(), saved.data(), saved.data() + H, saved.data() + 2 * H, saved.data() + 3 * H,
                         h_new.data());
            std::vector<float> dgi(3 * H, 1.0f), dgh(3 * H, 1.0f), dh(H, 1.0f);  // backward adds to what is there
            t->gates_backward_row(H, d.data(), h.data(), saved.data(), saved.data() + H, saved.data() + 2 * H, saved.data() + 3 * H,
                                  dgi.data(), dgh.data(), dh.data());
            for (std::size_t k = 0; k < H; ++k) {
                const double r = 1 / (1 + std::exp(-(double(gi[k]) + gh[k]))), u = 1 / (1 + std::exp(-(double(gi[H + k]) + gh[H + k])));
                const double n = std::tanh(double(gi[2 * H + k]) + r * gh[2 * H + k]);
                CHECK(h_new[k] == doctest::Approx((1 - u) * n + u * h[k]).epsilon(1e-5));
                const double da_n = d[k] * (1 - u) * (1 - n * n), da_r = da_n * gh[2 * H + k] * r * (1 - r);
                const double da_z = d[k] * (h[k] - n) * u * (1 - u);
                CHECK(dgi[k] == doctest::Approx(1 + da_r).epsilon(1e-5));
                CHECK(dgi[H + k] == doctest::Approx(1 + da_z).epsilon(1e-5));
                CHECK(dgi[2 * H + k] == doctest::Approx(1 + da_n).epsilon(1e-5));
                CHECK(dgh[2 * H + k] == doctest::Approx(1 + da_n * r).epsilon(1e-5));
                CHECK(dh[k] == doctest::Approx(1 + d[k] * u).epsilon(1e-5));
            }
        }
        for (const std::size_t A : {std::size_t{5}, std::size_t{37}}) {
            CAPTURE(A);
            std::vector<float> q(A), k(A), v(A), energy(A), dk(A, 1.0f), dq(A, 1.0f), dv(A, 1.0f);
            for (auto* w : {&q, &k, &v})
                for (float& f : *w) f = gen.uniform(-1.0f, 1.0f);
            double want = 0;
            for (std::size_t a = 0; a < A; ++a) want += double(v[a]) * std::tanh(double(q[a]) + k[a]);
            CHECK(t->score_row(q.data(), k.data(), v.data(), energy.data(), A) == doctest::Approx(want).epsilon(1e-5));
            t->score_backward_row(0.5f, energy.data(), v.data(), dk.data(), dq.data(), dv.data(), A);
            for (std::size_t a = 0; a < A; ++a) {
                const double e = std::tanh(double(q[a]) + k[a]);
                CHECK(energy[a] == doctest::Approx(e).epsilon(1e-5));
                CHECK(dk[a] == doctest::Approx(1 + 0.5 * v[a] * (1 - e * e)).epsilon(1e-5));
                CHECK(dq[a] == doctest::Approx(1 + 0.5 * v[a] * (1 - e * e)).epsilon(1e-5));
                CHECK(dv[a] == doctest::Approx(1 + 0.5 * e).epsilon(1e-5));
            }
        }
    }
}

TEST_CASE("kernels: gru_gates: the fused GRU step, against the composed ops") {
    // H = 4 (scalar tails only) and H = 21 (whole SIMD registers and a tail in every row)
    for (const std::size_t H : {std::size_t{4}, std::size_t{21}}) {
        CAPTURE(H);
        const Tensor gi = rand({3, 3 * H}, 40), gh = rand({3, 3 * H}, 41), h = rand({3, H}, 42);
        CHECK_GRADS([](Vars x) { return kernels::gru_gates(x[0], x[1], x[2]); }, {gi, gh, h});
        // each input used twice: the second gradient adds to the first (the first-write path and the += path)
        CHECK_GRADS([](Vars x) { return kernels::gru_gates(x[0], x[1], x[2]) * kernels::gru_gates(x[0] * 0.5f, x[1], x[2]); }, {gi, gh, h});

        // The composed reference (what GRUCell::step computes without kernels): values and gradients agree.
        auto run = [&](bool fused) {
            Tape tape;
            TapeScope scope(tape);
            Parameter pi(gi), pg(gh), ph(h);
            Var out;
            if (fused) {
                out = kernels::gru_gates(pi, pg, ph);
            } else {
                auto i = split(pi, 1, {H, H, H});
                auto g = split(pg, 1, {H, H, H});
                Var r = sigmoid(i[0] + g[0]), z = sigmoid(i[1] + g[1]);
                Var n = tanh(i[2] + r * g[2]);
                out = (1.0f - z) * n + z * ph;
            }
            sum(out * constant(rand({3, H}, 43))).backward();
            return std::vector<Tensor>{out.value(), pi.grad(), pg.grad(), ph.grad()};
        };
        const auto fused = run(true), composed = run(false);
        for (std::size_t i = 0; i < fused.size(); ++i) CHECK(max_abs_diff(fused[i], composed[i]) < 1e-6f);

        // A value by hand, in double precision: row 1, unit H - 1 (the scalar tail).
        const Tensor out = kernels::gru_gates(constant(gi), constant(gh), constant(h)).value();
        const std::size_t b = 1, k = H - 1;
        auto sig = [](double x) { return 1 / (1 + std::exp(-x)); };
        const double r = sig(double(gi.at({b, k})) + gh.at({b, k})), z = sig(double(gi.at({b, H + k})) + gh.at({b, H + k}));
        const double n = std::tanh(double(gi.at({b, 2 * H + k})) + r * gh.at({b, 2 * H + k}));
        CHECK(out.at({b, k}) == doctest::Approx((1 - z) * n + z * h.at({b, k})).epsilon(1e-6));
        active_tape().clear();
    }
    CHECK_THROWS_WITH_ALL(kernels::gru_gates(constant(rand({2, 12}, 1)), constant(rand({2, 9}, 2)), constant(rand({2, 4}, 3))),
                          ShapeError, "gru_gates", "[2, 12]", "[2, 9]", "[2, 4]");
}


TEST_CASE("kernels: additive_scores: the fused attention scores, against the composed ops") {
    const Tensor q = rand({2, 5}, 26), k = rand({2, 3, 5}, 27), v = rand({5}, 28);
    CHECK_GRADS([](Vars x) { return kernels::additive_scores(x[0], x[1], x[2]); }, {q, k, v});
    // keys and v used twice: the second gradient adds to the first (the first-write path and the += path)
    CHECK_GRADS([](Vars x) { return kernels::additive_scores(x[0], x[1], x[2]) * kernels::additive_scores(x[0] * 0.5f, x[1], x[2]); },
                {q, k, v});

    // The composed reference: matmul(tanh(q[:, None] + keys), v); values and every gradient agree.
    auto run = [&](bool fused) {
        Tape tape;
        TapeScope scope(tape);
        Parameter pq(q), pk(k), pv(v);
        Var e = fused ? kernels::additive_scores(pq, pk, pv)
                      : reshape(matmul(tanh(reshape(pq, {2, 1, 5}) + pk), reshape(pv, {5, 1})), {2, 3});
        sum(e * constant(rand({2, 3}, 29))).backward();
        return std::vector<Tensor>{e.value(), pq.grad(), pk.grad(), pv.grad()};
    };
    const auto fused = run(true), composed = run(false);
    for (std::size_t i = 0; i < fused.size(); ++i) CHECK(max_abs_diff(fused[i], composed[i]) < 1e-6f);

    // A = 37: whole SIMD registers (8 or 16 floats) and a scalar tail in every row.
    CHECK_GRADS([](Vars x) { return kernels::additive_scores(x[0], x[1], x[2]); },
                {rand({2, 37}, 30), rand({2, 3, 37}, 31), rand({37}, 32)});
    const Tensor q37 = rand({3, 37}, 33), k37 = rand({3, 4, 37}, 34), v37 = rand({37}, 35);
    const Tensor e37 = kernels::additive_scores(constant(q37), constant(k37), constant(v37)).value();
    for (std::size_t b = 0; b < 3; ++b)
        for (std::size_t s = 0; s < 4; ++s) {
            double want = 0;
            for (std::size_t a = 0; a < 37; ++a) want += double(v37.at({a})) * std::tanh(double(q37.at({b, a})) + k37.at({b, s, a}));
            CHECK(e37.at({b, s}) == doctest::Approx(want).epsilon(1e-5));
        }
    active_tape().clear();

    CHECK_THROWS_WITH_ALL(kernels::additive_scores(constant(q), constant(rand({2, 3, 4}, 1)), constant(v)), ShapeError,
                          "additive_scores", "[2, 5]", "[2, 3, 4]", "[5]");

    // G = 3 queries a sentence (beam search's hypotheses) against each sentence's one set of keys: the
    // same as the keys repeated 3 times (index_select), values and gradients, the keys' summed over G.
    const Tensor q6 = rand({6, 5}, 36);
    CHECK_GRADS([](Vars x) { return kernels::additive_scores(x[0], x[1], x[2]); }, {q6, k, v});
    auto grouped = [&](bool shared) {
        Tape tape;
        TapeScope scope(tape);
        Parameter pq(q6), pk(k), pv(v);
        const std::vector<std::int32_t> rows = {0, 0, 0, 1, 1, 1};
        Var e = kernels::additive_scores(pq, shared ? pk.var() : index_select(pk, 0, rows), pv);
        sum(e * constant(rand({6, 3}, 37))).backward();
        return std::vector<Tensor>{e.value(), pq.grad(), pk.grad(), pv.grad()};
    };
    const auto shared = grouped(true), repeated = grouped(false);
    for (std::size_t i = 0; i < shared.size(); ++i) CHECK(max_abs_diff(shared[i], repeated[i]) < 1e-6f);
    CHECK_THROWS_WITH_ALL(kernels::additive_scores(constant(rand({5, 5}, 38)), constant(k), constant(v)), ShapeError,
                          "additive_scores", "[5, 5]", "[2, 3, 5]");
}

TEST_CASE("kernels: linear's product equals the double-precision product") {
    // A shape that ends inside a tile in M and N and inside a K-slice.
    const Tensor x = test::rand({37, 300}, 12), w = test::rand({70, 300}, 13);
    Tape tape;
    TapeScope scope(tape);
    const Tensor y = linear(constant(x), constant(w)).value();
    for (std::size_t i = 0; i < 37; ++i)
        for (std::size_t j = 0; j < 70; ++j) {
            double want = 0, scale = 0;
            for (std::size_t p = 0; p < 300; ++p) {
                want += double(x.data()[i * 300 + p]) * w.data()[j * 300 + p];
                scale += std::abs(double(x.data()[i * 300 + p]) * w.data()[j * 300 + p]);
            }
            CHECK(std::abs(y.data()[i * 70 + j] - want) <= 1e-6 * (scale + 1.0));
        }
}

TEST_CASE("kernels: linear on two threads: the gradients of a recurrence equal those of one thread") {
    // A recurrence over 7 steps of 3 rows and one use of 200 rows, the same weight in both: OpenBLAS
    // splits products between threads, and the gradients must not depend on it.
    const Tensor w0 = rand({6, 5}, 60), b0 = rand({6}, 61), u0 = rand({5, 6}, 62), big = rand({200, 5}, 63);
    auto run = [&](int threads) {
        set_num_threads(threads);
        Tape tape;
        TapeScope scope(tape);
        Parameter w(w0), b(b0), u(u0);
        Var h = constant(rand({3, 5}, 64));
        Var loss = sum(linear(constant(big), w, b)) * 0.01f;
        for (int t = 0; t < 7; ++t) {
            h = tanh(linear(tanh(linear(h, w, b)), u));  // h_t = tanh(U tanh(W h_{t-1} + b))
            loss = loss + sum(h * h);
        }
        loss.backward();
        set_num_threads(1);
        return std::vector<Tensor>{w.grad(), b.grad(), u.grad()};
    };
    const auto one = run(1), two = run(2);
    for (std::size_t i = 0; i < one.size(); ++i) CHECK_CLOSE(two[i], one[i], 1e-5f, 1e-6f);
    set_num_threads(2);
    CHECK_GRADS([](Vars v) { return tanh(linear(tanh(linear(v[0], v[1])), v[1])); }, {rand({3, 4}, 65), rand({4, 4}, 66)});
    set_num_threads(1);
}
