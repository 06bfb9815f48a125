// Our AVX-512 matrix product (autograd/gemm_avx512.cpp) against a product computed here in double
// precision, over every transpose, both betas, leading dimensions wider than the matrices, and sizes
// that end inside a tile, a K-slice, an A block and a B block.
#include <doctest/doctest.h>

#include <cmath>
#include <limits>
#include <vector>

#include "autograd/detail/gemm.hpp"
#include "autograd/ops.hpp"
#include "autograd/random.hpp"
#include "autograd/tape.hpp"
#include "helpers.hpp"
#include "autograd/threads.hpp"

using namespace tg;

namespace {
struct Sizes {
    std::size_t m, n, k;
};
}  // namespace

TEST_CASE("our AVX-512 product equals a double-precision product: transposes, betas, edges and blocks") {
    if (!detail::own_gemm_enabled()) {
        MESSAGE("not compiled for AVX-512 (or TAPEGRAD_GEMM=openblas): OpenBLAS does every product");
        return;
    }
    // Tiles are 12 x 32, K-slices 256, A blocks 144 rows, B blocks 4,096 columns.
    const std::vector<Sizes> sizes = {{1, 1, 1},   {12, 32, 5},   {13, 33, 1},    {11, 31, 257}, {150, 40, 520},
                                      {24, 64, 256}, {13, 4100, 260}, {32, 384, 128}, {5, 3, 0}, {300, 100, 300}};
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
                    detail::sgemm(a.data(), ta, lda, b.data(), tb, ldb, c.data(), ldc, s.m, s.n, s.k, beta);
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

TEST_CASE("linear runs its product through ours: its value equals the double-precision product") {
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
