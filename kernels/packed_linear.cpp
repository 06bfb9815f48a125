// linear() with a packed weight: the thin products of decoding (kernels/packed.hpp says why).
//
// The kernel computes a tile of 6 output rows x 16 output columns in 12 vector registers: for each k
// it loads the panel's two 8-float vectors once and multiplies them by each row's x[r][k] (a
// broadcast). Per 12 fused multiply-adds that is 2 + 6 loads, well within what a core can feed, so
// the loop runs at the machine's multiply-add rate. The rows are packed too, per pass over k, so a
// tile reads them as one stream. Built for AVX-512, the same code runs on vectors of 16 floats:
// tiles of 12 rows x 32 columns in 24 of the 32 registers (as kernels/gemm.cpp's).
#include <cblas.h>
#include <sys/mman.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <utility>

#include <fmt/format.h>

#include "autograd/error.hpp"
#include "autograd/op.hpp"
#include "kernels/kernels.hpp"
#include "kernels/packed.hpp"
#include "kernels/profile.hpp"
#include "kernels/threads.hpp"

namespace tg {

namespace {

// The kernel needs 256-bit fused multiply-add (built with -march=native on any x86-64 of the last
// decade, as the Makefile does); without it the weight stays as it is and BLAS does the product.
#if defined(__AVX2__) && defined(__FMA__)
constexpr bool kPack = true;
#else
constexpr bool kPack = false;
#endif

#if defined(__AVX512F__)
constexpr std::size_t kLanes = 16;      // floats per vector register
constexpr std::size_t kRows = 12;       // rows per tile: 12 x 2 accumulators + 2 weights + 1 broadcast <= 32 registers
constexpr std::size_t kMaxDepth = 256;  // k per pass: a panel's slice (<= 32 KB) stays in the L1 cache
#else
constexpr std::size_t kLanes = 8;
constexpr std::size_t kRows = 6;        // 6 x 2 accumulators + 2 weights + 1 broadcast <= 16 registers
constexpr std::size_t kMaxDepth = 512;
#endif
constexpr std::size_t kCols = 2 * kLanes;  // output columns per panel: two vectors

typedef float Vec __attribute__((vector_size(kLanes * sizeof(float))));  // GCC's vector extension: one register

// y[r][0..cols) += sum over k of xs[k][r] * panel[k][0..cols), for the R rows of one tile. With
// `next`, also asks for the same slice of the next panel to be brought into L2, one 64-byte line per k:
// the first tile of a panel fetches the next one while the other tiles compute (the hardware
// prefetcher alone starts each panel cold).
template <std::size_t R>
void tile(const float* xs, const float* panel, std::size_t depth, float* y, std::size_t ldy, std::size_t cols,
          const float* next = nullptr) {
    Vec acc[R][2] = {};
    for (std::size_t k = 0; k < depth; ++k) {
        if (next)
            for (std::size_t line = 0; line < kCols; line += 16) __builtin_prefetch(next + k * kCols + line, 0, 2);
        Vec w0, w1;
        std::memcpy(&w0, panel + k * kCols, sizeof w0);
        std::memcpy(&w1, panel + k * kCols + kLanes, sizeof w1);
        for (std::size_t r = 0; r < R; ++r) {
            const float x = xs[k * R + r];
            acc[r][0] += x * w0;
            acc[r][1] += x * w1;
        }
    }
    for (std::size_t r = 0; r < R; ++r) {
        float* out = y + r * ldy;
        if (cols == kCols) {
            Vec o0, o1;
            std::memcpy(&o0, out, sizeof o0);
            std::memcpy(&o1, out + kLanes, sizeof o1);
            o0 += acc[r][0];
            o1 += acc[r][1];
            std::memcpy(out, &o0, sizeof o0);
            std::memcpy(out + kLanes, &o1, sizeof o1);
        } else {  // the last panel of a width that is not a multiple of kCols
            for (std::size_t c = 0; c < cols; ++c) out[c] += acc[r][c / kLanes][c % kLanes];
        }
    }
}

// One tile of `rows` rows (1 to kRows): tile<1>, ..., tile<kRows> chosen at run time.
template <std::size_t... R>
void tile_of_impl(std::index_sequence<R...>, std::size_t rows, const float* xs, const float* panel, std::size_t depth,
                  float* y, std::size_t ldy, std::size_t cols, const float* next) {
    ((rows == R + 1 ? tile<R + 1>(xs, panel, depth, y, ldy, cols, next) : void()), ...);
}
void tile_of(std::size_t rows, const float* xs, const float* panel, std::size_t depth, float* y, std::size_t ldy,
             std::size_t cols, const float* next) {
    tile_of_impl(std::make_index_sequence<kRows>{}, rows, xs, panel, depth, y, ldy, cols, next);
}

// Calls f(first row, rows) for each tile of m rows: tiles of kRows, then the rest. A tile of 1 or 2
// rows keeps only 2 or 4 sums in flight, too few to hide the multiply-add's latency, so with 6-row
// tiles 6 + 1 and 6 + 2 rows are cut 4 + 3 and 4 + 4 (32 rows: 6 x 4 + 4 + 4; with 12-row tiles,
// 12 + 12 + 8).
template <class F>
void for_each_tile(std::size_t m, F f) {
    std::size_t sixes = m / kRows, rest = m % kRows, r0 = 0;
    if (sixes > 0 && rest > 0 && rest < 3) --sixes, rest += kRows;
    for (std::size_t t = 0; t < sixes; ++t, r0 += kRows) f(r0, kRows);
    if (rest > kRows) {
        f(r0, (rest + 1) / 2);
        r0 += (rest + 1) / 2;
        rest -= (rest + 1) / 2;
    }
    if (rest > 0) f(r0, rest);
}

// k is split into passes of equal depth, at most kMaxDepth each.
std::size_t pass_depth(std::size_t k) {
    const std::size_t passes = std::max<std::size_t>(1, (k + kMaxDepth - 1) / kMaxDepth);
    return (k + passes - 1) / passes;
}

// x [m, k] packed per pass: pass p (from k0, `depth` deep) starts at k0 * m, its tiles one after the
// other, each [depth][rows of the tile].
void pack_rows(const float* x, std::size_t m, std::size_t k, float* xp) {
    const std::size_t step = pass_depth(k);
    for (std::size_t k0 = 0; k0 < k; k0 += step) {
        const std::size_t depth = std::min(step, k - k0);
        float* pass = xp + k0 * m;
        for_each_tile(m, [&](std::size_t r0, std::size_t rows) {
            float* t = pass + r0 * depth;
            for (std::size_t d = 0; d < depth; ++d)
                for (std::size_t r = 0; r < rows; ++r) t[d * rows + r] = x[(r0 + r) * k + k0 + d];
        });
    }
}

// y [m, n] += x W^T for the panels [p0, p1), with x already packed.
void panels_product(const float* xp, std::size_t m, std::size_t k, const float* w, std::size_t n, float* y,
                    std::size_t p0, std::size_t p1) {
    const std::size_t step = pass_depth(k);
    for (std::size_t p = p0; p < p1; ++p) {
        const std::size_t col = p * kCols, cols = std::min(kCols, n - col);
        for (std::size_t k0 = 0; k0 < k; k0 += step) {
            const std::size_t depth = std::min(step, k - k0);
            const float* panel = w + col * k + k0 * kCols;  // panel p is [k][kCols]; this pass's slice of it
            const float* pass = xp + k0 * m;
            const float* next = p + 1 < p1 ? panel + kCols * k : nullptr;
            for_each_tile(m, [&](std::size_t r0, std::size_t rows) {
                tile_of(rows, pass + r0 * depth, panel, depth, y + r0 * n + col, n, cols, r0 == 0 ? next : nullptr);
            });
        }
    }
}

// Asks for transparent huge pages (2 MB) over a fresh buffer, before its first touch. Each first touch
// of a 4 KB page is a page fault, expensive on a virtual machine, and packing a large output weight
// touches thousands of them (docs/history.md has the measurement). Only here: on the tensors of a
// training step, huge pages made OpenBLAS slower, so the rest of the library keeps the allocator's pages.
void advise_huge_pages(void* p, std::size_t bytes) {
#ifdef MADV_HUGEPAGE
    constexpr std::uintptr_t kPage = 4096;
    const auto begin = (reinterpret_cast<std::uintptr_t>(p) + kPage - 1) / kPage * kPage;
    const auto end = (reinterpret_cast<std::uintptr_t>(p) + bytes) / kPage * kPage;
    if (bytes >= (std::size_t{4} << 20) && end > begin)
        ::madvise(reinterpret_cast<void*>(begin), end - begin, MADV_HUGEPAGE);  // a hint: failure is fine
#else
    (void)p, (void)bytes;
#endif
}

}  // namespace

PackedWeight::PackedWeight(const Tensor& weight) {
    if (weight.shape().rank() != 2)
        throw ShapeError(fmt::format("PackedWeight: weight {} is not [out, in]", weight.shape().str()));
    out_ = weight.shape()[0];
    in_ = weight.shape()[1];
    const float* w = weight.data();
    if (!kPack) {
        data_.assign(w, w + out_ * in_);
        return;
    }
    // Panel p holds output columns [C p, C p + C) as [in][C] (C = kCols, 16 or 32): its row k is
    // W[C p .. C p + C - 1][k], one or two 64-byte cache lines (the buffer is 64-byte aligned).
    // Columns past the end are zeros.
    const std::size_t panels = (out_ + kCols - 1) / kCols;
    data_.resize_discard(panels * kCols * in_);
    advise_huge_pages(data_.data(), data_.size() * sizeof(float));
    for (std::size_t p = 0; p < panels; ++p) {
        float* panel = data_.data() + p * kCols * in_;
        const std::size_t cols = std::min(kCols, out_ - p * kCols);
        const float* rows = w + p * kCols * in_;
        for (std::size_t k = 0; k < in_; ++k) {
            for (std::size_t c = 0; c < cols; ++c) panel[k * kCols + c] = rows[c * in_ + k];
            for (std::size_t c = cols; c < kCols; ++c) panel[k * kCols + c] = 0.0f;
        }
    }
}

Var linear(const Var& x, const PackedWeight& weight, const Var& bias) {
    Op op = kernels::start_packed_linear(x, weight, bias);  // (checks that they fit)
    const Shape& xs = x.shape();
    const std::size_t n_in = weight.in_features(), n_out = weight.out_features();
    const bool has_bias = bias.defined();
    const std::size_t rows = xs.numel() / std::max<std::size_t>(n_in, 1);
    float* y = op.out().data();
    log_gemm({false, true, rows, n_out, n_in, has_bias ? 1.0f : 0.0f});
    for (std::size_t r = 0; r < rows; ++r) {  // start from the bias (or zero), then accumulate
        if (has_bias) std::copy_n(bias.value().data(), n_out, y + r * n_out);
        else std::fill_n(y + r * n_out, n_out, 0.0f);
    }
    if (!kPack) {
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, int(rows), int(n_out), int(n_in), 1.0f,
                    x.value().data(), int(n_in), weight.data(), int(n_in), 1.0f, y, int(n_out));
    } else if (rows > 0 && n_out > 0) {
        FloatBuffer& xp = op.saved();  // nothing is recorded, so this is the op's reused scratch: no allocation per step
        xp.resize_discard(rows * n_in);
        pack_rows(x.value().data(), rows, n_in, xp.data());
        // Threads split the panels (the columns); each reads all of x and its own share of W.
        const std::size_t panels = (n_out + kCols - 1) / kCols;
        const std::size_t threads = std::min<std::size_t>(num_threads(), std::max<std::size_t>(1, panels / 64));
        detail::parallel_for(threads, [&](std::size_t t) {
            panels_product(xp.data(), rows, n_in, weight.data(), n_out, y, panels * t / threads, panels * (t + 1) / threads);
        });
    }
    return op.finish([](Record&) { throw TapeError("linear (packed) has no backward"); });
}

}  // namespace tg
