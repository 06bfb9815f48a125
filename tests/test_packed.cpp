// The packed weight of decoding (kernels/packed.hpp): the same numbers as a product computed in
// double precision by plain loops, for every shape the kernel treats differently (row counts around
// its tiles of 12 rows, column counts around its panels of 32 columns,
// depths split into several passes),
// with threads, and its refusals.
#include <cmath>

#include "helpers.hpp"
#include "kernels/kernels.hpp"
#include "kernels/packed.hpp"
#include "kernels/threads.hpp"
#include "tapegrad.hpp"

using namespace tg;
using tg::test::rand;

namespace {

// y = x W^T + b in double precision; returns the largest |error| of `y` divided by the bound
// sum_k |x_k||w_k| + |b| of its entry (float rounding stays far below 1e-5 of that).
double worst_relative_error(const Tensor& x, const Tensor& w, const Tensor* b, const Tensor& y) {
    const std::size_t n_in = w.shape()[1], n_out = w.shape()[0], rows = x.numel() / n_in;
    double worst = 0.0;
    for (std::size_t r = 0; r < rows; ++r)
        for (std::size_t o = 0; o < n_out; ++o) {
            double exact = b ? b->data()[o] : 0.0, bound = b ? std::fabs(b->data()[o]) : 0.0;
            for (std::size_t k = 0; k < n_in; ++k) {
                exact += double(x.data()[r * n_in + k]) * w.data()[o * n_in + k];
                bound += std::fabs(double(x.data()[r * n_in + k]) * w.data()[o * n_in + k]);
            }
            worst = std::max(worst, std::fabs(y.data()[r * n_out + o] - exact) / std::max(bound, 1e-30));
        }
    return worst;
}

}  // namespace

TEST_CASE("linear with a packed weight equals the exact product for every tile and panel shape") {
    NoGradGuard no_grad;
    std::uint64_t seed = 1;
    for (std::size_t rows : {1, 5, 6, 7, 11, 12, 13, 14, 25, 32, 160, 250})  // 160: one block of rows; 250: two
        for (std::size_t n_in : {1, 3, 17, 448, 801})  // 801: several passes over k
            for (std::size_t n_out : {1, 15, 16, 17, 31, 32, 33, 100}) {
                CAPTURE(rows);
                CAPTURE(n_in);
                CAPTURE(n_out);
                const Tensor x = rand({rows, n_in}, seed++), w = rand({n_out, n_in}, seed++), b = rand({n_out}, seed++);
                const PackedWeight packed(w);
                CHECK(packed.out_features() == n_out);
                CHECK(packed.in_features() == n_in);
                CHECK(worst_relative_error(x, w, &b, linear(constant(x), packed, constant(b)).value()) < 1e-5);
                CHECK(worst_relative_error(x, w, nullptr, linear(constant(x), packed).value()) < 1e-5);
            }
}

TEST_CASE("linear with a packed weight: leading axes, two threads, the unpacked op's numbers") {
    NoGradGuard no_grad;
    // 4,200 columns: 132 panels, enough for two threads to split them.
    const Tensor x = rand({3, 4, 40}, 7), w = rand({4200, 40}, 8), b = rand({4200}, 9);
    const PackedWeight packed(w);
    const Tensor one_thread = linear(constant(x), packed, constant(b)).value();
    CHECK(one_thread.shape() == Shape{3, 4, 4200});
    CHECK(worst_relative_error(x, w, &b, one_thread) < 1e-5);
    set_num_threads(2);  // our kernel splits the columns between threads: each sum is the same, bit for bit
    const Tensor two_threads = linear(constant(x), packed, constant(b)).value();
    set_num_threads(1);
    bool ours = false;  // our kernel (not OpenBLAS's, nor a reference build's loops)
    if constexpr (kernels::enabled) ours = kernels::own_gemm_available();
    if (ours)
        CHECK(std::equal(one_thread.flat().begin(), one_thread.flat().end(), two_threads.flat().begin()));
    else  // (without AVX-512 OpenBLAS does the product, and its threads may split the sums)
        CHECK(worst_relative_error(x, w, &b, two_threads) < 1e-5);
    const Tensor unpacked = linear(constant(x), constant(w), constant(b)).value();
    for (std::size_t i = 0; i < unpacked.numel(); ++i) CHECK(one_thread.data()[i] == doctest::Approx(unpacked.data()[i]).epsilon(1e-5));
}

TEST_CASE("linear with a packed weight is for inference and checks its shapes") {
    Parameter x(rand({2, 3}, 1));
    const PackedWeight packed(rand({4, 3}, 2));
    CHECK_THROWS_WITH_ALL(linear(x, packed), TapeError, "packed", "inference");
    CHECK(active_tape().num_records() == 0);  // nothing half recorded
    NoGradGuard no_grad;
    CHECK(linear(x, packed).shape() == Shape{2, 4});  // no gradient wanted: fine
    CHECK_THROWS_WITH_ALL(linear(constant(rand({2, 5}, 3)), packed), ShapeError, "linear (packed)", "[2, 5]", "[4, 3]");
    CHECK_THROWS_WITH_ALL(linear(x, packed, constant(rand({3}, 4))), ShapeError, "bias [3]");
    CHECK_THROWS_WITH_ALL(PackedWeight(rand({2, 3, 4}, 5)), ShapeError, "PackedWeight", "[2, 3, 4]");
}

TEST_CASE("PackedWeightsScope: products with one of its weights read it packed once per layout, with the same numbers") {
    // Shapes that end inside a tile (37 rows; 70 columns, 2 panels and 6 columns) and a K-slice (300),
    // and 640 rows: a product large enough for two threads to split.
    Tape tape;
    TapeScope on(tape);
    Parameter w(rand({70, 300}, 31)), b(rand({70}, 32)), other(rand({70, 300}, 33));
    const bool packs = kernels::enabled && kernels::own_gemm_available();
    for (const int threads : {1, 2}) {
        set_num_threads(threads);
        CAPTURE(threads);
        std::vector<Parameter*> weights{&w, &b};
        PackedWeightsScope scope(weights);
        for (const std::size_t rows : {std::size_t{37}, std::size_t{640}}) {
            const Tensor x = rand({rows, 300}, 34 + rows);
            NoGradGuard no_grad;
            const Tensor y = linear(constant(x), w, b).value(), y0 = linear(constant(x), w).value();
            CHECK(worst_relative_error(x, w.value(), &b.value(), y) < 1e-5);
            CHECK(worst_relative_error(x, w.value(), nullptr, y0) < 1e-5);
            CHECK(scope.packed() == (packs ? 1 : 0));  // w once, whatever the calls; b is no matrix
            linear(constant(x), other);  // not one of the scope's: packed at the call, as without a scope
            linear(constant(x), constant(w.value()));  // the same numbers on the tape: not the scope's weight
            CHECK(scope.packed() == (packs ? 1 : 0));
        }
        // A training step: the forward reads w packed as before, backward's dx = dy W reads it packed
        // the other way (a second copy), dW = dy^T x is a product as always.
        Parameter x(rand({5, 300}, 35));
        linear(x, w, b).backward(Tensor::full({5, 70}, 1.0f));
        CHECK(scope.packed() == (packs ? 2 : 0));
        for (std::size_t j = 0; j < 300; ++j) {
            double dw = 0.0, dx = 0.0;  // dW = dy^T x: each row the column sum of x; dx = dy W: each row the column sum of W
            for (std::size_t r = 0; r < 5; ++r) dw += x.value().data()[r * 300 + j];
            for (std::size_t o = 0; o < 70; ++o) dx += w.value().data()[o * 300 + j];
            CHECK(w.grad().data()[j] == doctest::Approx(dw).epsilon(1e-5));
            for (std::size_t r = 0; r < 5; ++r) CHECK(x.grad().data()[r * 300 + j] == doctest::Approx(dx).epsilon(1e-5));
        }
        w.zero_grad();
        b.zero_grad();
        // x W (matmul) with W one of the weights reads the same second copy: 37 rows by W^T [300, 70]
        std::vector<Parameter*> transposed{&x, &w};  // (x [5, 300] as a weight: y = z x, z [37, 5])
        PackedWeightsScope inner(transposed);
        const Tensor z = rand({37, 5}, 36);
        const Tensor zx = matmul(constant(z), x).value();
        CHECK(inner.packed() == (packs ? 1 : 0));
        CHECK(scope.packed() == (packs ? 2 : 0));  // the innermost scope is the one read
        for (std::size_t i = 0; i < 37; ++i)
            for (std::size_t j = 0; j < 300; ++j) {
                double want = 0.0;
                for (std::size_t r = 0; r < 5; ++r) want += double(z.data()[i * 5 + r]) * x.value().data()[r * 300 + j];
                CHECK(zx.data()[i * 300 + j] == doctest::Approx(want).epsilon(1e-5));
            }
    }
    set_num_threads(1);
    std::vector<Parameter*> weights{&w};
    PackedWeightsScope fresh(weights);  // a new scope packs anew (the weights may have changed between)
    CHECK(fresh.packed() == 0);
    // Training, a product of many rows (an output layer over the whole batch) packs W at the call, as
    // without a scope: no copy kept. Decoding packs it (its products repeat at every step).
    const Tensor x = rand({640, 300}, 37);
    CHECK(worst_relative_error(x, w.value(), nullptr, linear(constant(x), w).value()) < 1e-5);
    CHECK(fresh.packed() == 0);
    NoGradGuard no_grad;
    CHECK(worst_relative_error(x, w.value(), nullptr, linear(constant(x), w).value()) < 1e-5);
    CHECK(fresh.packed() == (packs ? 1 : 0));
}
