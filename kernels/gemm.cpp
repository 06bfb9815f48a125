// A single-precision matrix product for AVX-512, written the way BLIS and OpenBLAS write theirs
// (Goto & van de Geijn, "Anatomy of high-performance matrix multiplication", 2008; BLIS's five
// loops around a micro-kernel), in under two hundred lines.
//
// Why our own, and where: with OpenBLAS as users run it (no OPENBLAS_CORETYPE pin, so its AVX-512
// kernels on such a CPU), training's large products run as fast or faster on OpenBLAS, while the
// decoders' small products (a few rows per sentence, a new shape every step) run faster here, where no
// per-call dispatch or thread start-up is paid, and the thin products of a recurrence (a few dozen
// rows by the same weight at every word) run much faster on a weight packed once than on one a BLAS
// repacks at every call (docs/performance.md has the figures and the command). So gemm() below sends
// a thin product whose weight an open PackedWeightsScope holds to packed_product, products made with
// gradients off to own_gemm, and the rest to OpenBLAS: one register tile for every product of ours.
// It is checked against the reference product for every transpose, edge and block size
// (tests/test_kernels.cpp, tests/test_packed.cpp).
//
// The structure: C is computed in tiles of MR x NR = 12 x 32 floats, each held in 24 of the 32 vector
// registers while the micro-kernel runs down a K-slice of KC: per k it loads 32 floats of B (two
// registers) and broadcasts 12 of A, 24 fused multiply-adds. Around it, blocks sized for the caches:
// op(B) is copied ("packed") KC x NC at a time into panels of NR columns, laid out in the order the
// micro-kernel reads them (a B panel, 32 KB, stays in L1 while the A panels stream past it); op(A)
// MC x KC at a time into panels of MR rows (150 KB, in L2). Packing also takes care of transposes
// (a transposed B, every linear's x W^T, 16 x 16 at a time through an in-register transpose) and of
// edges: a partial panel is padded with zeros, a tile of fewer rows runs the micro-kernel for that
// many rows (a template parameter), and a tile of fewer columns goes through a small buffer.
// The first K-slice applies beta; the others accumulate.
#include <cblas.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <utility>

#include "autograd/tape.hpp"
#include "autograd/tensor.hpp"
#include "kernels/kernels.hpp"
#include "kernels/profile.hpp"
#include "kernels/simd.hpp"
#include "kernels/threads.hpp"

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define TAPEGRAD_OWN_GEMM 1  // compiled for AVX-512 below whatever -march says; run where the CPU has it
#else
#define TAPEGRAD_OWN_GEMM 0
#endif

namespace tg::kernels {

namespace {
void openblas_gemm(const float* a, bool trans_a, std::size_t lda, const float* b, bool trans_b, std::size_t ldb, float* c,
                   std::size_t ldc, std::size_t m, std::size_t n, std::size_t k, float beta) {
    static thread_local bool room_checked = false;  // this thread's first product maps its buffer (threads.cpp)
    if (!room_checked) {
        detail::check_blas_room(1);
        room_checked = true;
    }
    cblas_sgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans, trans_b ? CblasTrans : CblasNoTrans, int(m), int(n),
                int(k), 1.0f, a, int(lda), b, int(ldb), beta, c, int(ldc));
}
}  // namespace

#if TAPEGRAD_OWN_GEMM

// Everything up to pop_options is compiled for AVX-512 (GCC's target pragma), also in a portable
// build (-Dnative=false): own_gemm_available() asks the CPU at run time, and only then does gemm()
// come here. Only this file's own functions take the target; the headers were included before it.
#pragma GCC push_options
#pragma GCC target("avx512f")
namespace {

constexpr std::size_t MR = 12, NR = kPanel;          // a tile of C: 24 registers of 16 floats (NR = 32)
constexpr std::size_t KC = 256, MC = 144, NC = 4096; // blocks: an A panel in L1, A's block in L2, B's in L3
// packed_product's rows a block, at most: its weight streams from memory once per block of rows, so
// a beam's 160 rows go in one block of 160 (160 KB of x in L2), not in one of 144 and one of 16 that
// streams the whole weight again for a single tile's rows.
constexpr std::size_t MC_STREAM = 240;

// One tile of R <= MR rows: c[0:R, 0:NR] = (Accumulate ? c : 0) + a_panel b_panel over kc. The packed
// panels: a[p * MR + i] = op(A)[i, p] (rows past R unread), b[p * NR + j] = op(B)[p, j]. With `next`,
// also asks for the same slice of another B panel to come into L2, two 64-byte lines per p: decoding's
// packed weights stream from memory, and the hardware prefetcher alone starts each panel cold.
template <std::size_t R, bool Accumulate>
void micro_kernel(std::size_t kc, const float* __restrict a, const float* __restrict b, float* c, std::size_t ldc,
                  const float* next) {
    __m512 acc[R][2];
#pragma GCC unroll 12
    for (std::size_t i = 0; i < R; ++i) {
        acc[i][0] = acc[i][1] = _mm512_setzero_ps();
        _mm_prefetch(reinterpret_cast<const char*>(c + i * ldc), _MM_HINT_T0);  // C's tile arrives while the sums run
        _mm_prefetch(reinterpret_cast<const char*>(c + i * ldc + 16), _MM_HINT_T0);
    }
    for (std::size_t p = 0; p < kc; ++p, a += MR, b += NR) {
        if (next) {
            _mm_prefetch(reinterpret_cast<const char*>(next + p * NR), _MM_HINT_T1);
            _mm_prefetch(reinterpret_cast<const char*>(next + p * NR + 16), _MM_HINT_T1);
        }
        const __m512 b0 = _mm512_load_ps(b), b1 = _mm512_load_ps(b + 16);
#pragma GCC unroll 12
        for (std::size_t i = 0; i < R; ++i) {
            const __m512 ai = _mm512_set1_ps(a[i]);
            acc[i][0] = _mm512_fmadd_ps(ai, b0, acc[i][0]);
            acc[i][1] = _mm512_fmadd_ps(ai, b1, acc[i][1]);
        }
    }
#pragma GCC unroll 12
    for (std::size_t i = 0; i < R; ++i) {
        float* ci = c + i * ldc;
        if constexpr (Accumulate) {
            acc[i][0] = _mm512_add_ps(_mm512_loadu_ps(ci), acc[i][0]);
            acc[i][1] = _mm512_add_ps(_mm512_loadu_ps(ci + 16), acc[i][1]);
        }
        _mm512_storeu_ps(ci, acc[i][0]);
        _mm512_storeu_ps(ci + 16, acc[i][1]);
    }
}

// Any tile of C, h <= MR rows by w <= NR columns: the micro-kernel for h rows (micro_kernel<1>, ...,
// <MR>, chosen at run time), through a buffer when the tile is narrower than a panel.
template <std::size_t... R>
void tile_of_rows(std::index_sequence<R...>, std::size_t h, bool accumulate, std::size_t kc, const float* a,
                  const float* b, float* c, std::size_t ldc, const float* next) {
    ((h == R + 1 ? (accumulate ? micro_kernel<R + 1, true>(kc, a, b, c, ldc, next)
                               : micro_kernel<R + 1, false>(kc, a, b, c, ldc, next))
                 : void()),
     ...);
}
void tile(std::size_t h, std::size_t w, bool accumulate, std::size_t kc, const float* a, const float* b, float* c,
          std::size_t ldc, const float* next = nullptr) {
    constexpr auto all_heights = std::make_index_sequence<MR>{};
    if (w == NR) return tile_of_rows(all_heights, h, accumulate, kc, a, b, c, ldc, next);
    alignas(64) float buffer[MR * NR];
    tile_of_rows(all_heights, h, false, kc, a, b, buffer, NR, next);
    for (std::size_t i = 0; i < h; ++i)
        for (std::size_t j = 0; j < w; ++j) c[i * ldc + j] = (accumulate ? c[i * ldc + j] : 0.0f) + buffer[i * NR + j];
}

// The packing buffers, grown once per thread and reused by every product on it.
float* packed_a_buffer() {
    thread_local FloatBuffer buffer;
    if (buffer.size() < MC_STREAM * KC) buffer.resize_discard(MC_STREAM * KC);
    return buffer.data();
}

// Sixteen rows of 16 floats (r[i] = row i) become sixteen columns (r[c] = element c of every row), in
// three rounds of shuffles: pairs of rows interleaved, then groups of four within each 128-bit lane,
// then the lanes themselves.
void transpose16(__m512 r[16]) {
    __m512 t[16], u[16];
    for (int i = 0; i < 16; i += 2) {
        t[i] = _mm512_unpacklo_ps(r[i], r[i + 1]);      // per lane: r_i[0] r_i+1[0] r_i[1] r_i+1[1]
        t[i + 1] = _mm512_unpackhi_ps(r[i], r[i + 1]);  //           r_i[2] r_i+1[2] r_i[3] r_i+1[3]
    }
    for (int g = 0; g < 16; g += 4) {  // rows g..g+3, per lane: element q of each
        u[g] = _mm512_shuffle_ps(t[g], t[g + 2], 0x44);
        u[g + 1] = _mm512_shuffle_ps(t[g], t[g + 2], 0xEE);
        u[g + 2] = _mm512_shuffle_ps(t[g + 1], t[g + 3], 0x44);
        u[g + 3] = _mm512_shuffle_ps(t[g + 1], t[g + 3], 0xEE);
    }
    for (int q = 0; q < 4; ++q) {  // u[4g + q], lane l: element 4l + q of rows 4g..4g+3
        const __m512 v0 = _mm512_shuffle_f32x4(u[q], u[4 + q], 0x88), v1 = _mm512_shuffle_f32x4(u[q], u[4 + q], 0xDD);
        const __m512 v2 = _mm512_shuffle_f32x4(u[8 + q], u[12 + q], 0x88), v3 = _mm512_shuffle_f32x4(u[8 + q], u[12 + q], 0xDD);
        r[q] = _mm512_shuffle_f32x4(v0, v2, 0x88);
        r[q + 8] = _mm512_shuffle_f32x4(v0, v2, 0xDD);
        r[q + 4] = _mm512_shuffle_f32x4(v1, v3, 0x88);
        r[q + 12] = _mm512_shuffle_f32x4(v1, v3, 0xDD);
    }
}

// op(B)[pc : pc + kc, jc : jc + nc] into panels of NR columns, zero-padded to whole panels.
void pack_b(const float* b, bool trans, std::size_t ldb, std::size_t pc, std::size_t kc, std::size_t jc, std::size_t nc,
            float* out) {
    for (std::size_t jr = 0; jr < nc; jr += NR, out += kc * NR) {
        const std::size_t w = std::min(NR, nc - jr);
        if (w < NR) std::fill_n(out, kc * NR, 0.0f);
        if (!trans) {  // rows of op(B) = rows of B: contiguous runs of w
            for (std::size_t p = 0; p < kc; ++p) std::memcpy(out + p * NR, b + (pc + p) * ldb + jc + jr, w * sizeof(float));
        } else {  // op(B)[p, j] = B[j, p]: B's rows become the panel's columns, 16 x 16 at a time
            std::size_t p0 = 0;
            for (; w == NR && p0 + 16 <= kc; p0 += 16)
                for (std::size_t j0 = 0; j0 < NR; j0 += 16) {
                    __m512 r[16];
                    for (std::size_t i = 0; i < 16; ++i) r[i] = _mm512_loadu_ps(b + (jc + jr + j0 + i) * ldb + pc + p0);
                    transpose16(r);
                    for (std::size_t q = 0; q < 16; ++q) _mm512_store_ps(out + (p0 + q) * NR + j0, r[q]);
                }
            for (std::size_t j = 0; j < w; ++j) {  // the rest: a partial panel, or the last kc % 16 rows
                const float* row = b + (jc + jr + j) * ldb + pc;
                for (std::size_t p = p0; p < kc; ++p) out[p * NR + j] = row[p];
            }
        }
    }
}

// op(A)[ic : ic + mc, pc : pc + kc] into panels of MR rows, zero-padded to whole panels.
void pack_a(const float* a, bool trans, std::size_t lda, std::size_t ic, std::size_t mc, std::size_t pc, std::size_t kc,
            float* out) {
    for (std::size_t ir = 0; ir < mc; ir += MR, out += kc * MR) {
        const std::size_t h = std::min(MR, mc - ir);
        if (h < MR) std::fill_n(out, kc * MR, 0.0f);
        if (trans) {  // op(A)[i, p] = A[p, i]: the panel's rows are runs of A's rows
            for (std::size_t p = 0; p < kc; ++p) std::memcpy(out + p * MR, a + (pc + p) * lda + ic + ir, h * sizeof(float));
        } else {
            for (std::size_t i = 0; i < h; ++i) {
                const float* row = a + (ic + ir + i) * lda + pc;
                for (std::size_t p = 0; p < kc; ++p) out[p * MR + i] = row[p];
            }
        }
    }
}

void gemm_one_thread(const float* a, bool trans_a, std::size_t lda, const float* b, bool trans_b, std::size_t ldb,
                     float* c, std::size_t ldc, std::size_t m, std::size_t n, std::size_t k, float beta) {
    if (k == 0) {  // an empty sum
        if (beta == 0.0f)
            for (std::size_t i = 0; i < m; ++i) std::fill_n(c + i * ldc, n, 0.0f);
        return;
    }
    thread_local FloatBuffer packed_b;
    if (packed_b.size() < NC * KC) packed_b.resize_discard(NC * KC);  // (NC is whole panels)
    float* packed_a = packed_a_buffer();
    for (std::size_t jc = 0; jc < n; jc += NC) {
        const std::size_t nc = std::min(NC, n - jc);
        for (std::size_t pc = 0; pc < k; pc += KC) {
            const std::size_t kc = std::min(KC, k - pc);
            const bool accumulate = pc > 0 || beta != 0.0f;
            pack_b(b, trans_b, ldb, pc, kc, jc, nc, packed_b.data());
            for (std::size_t ic = 0; ic < m; ic += MC) {
                const std::size_t mc = std::min(MC, m - ic);
                pack_a(a, trans_a, lda, ic, mc, pc, kc, packed_a);
                for (std::size_t jr = 0; jr < nc; jr += NR)
                    for (std::size_t ir = 0; ir < mc; ir += MR)
                        tile(std::min(MR, mc - ir), std::min(NR, nc - jr), accumulate, kc, packed_a + ir * kc,
                             packed_b.data() + jr * kc, c + (ic + ir) * ldc + jc + jr, ldc);
            }
        }
    }
}

}  // namespace
#pragma GCC pop_options

// AVX-512 Foundation, and the operating system saving the 512-bit registers (OSXSAVE, XCR0's opmask,
// ZMM and SSE/AVX state bits): what __builtin_cpu_supports("avx512f") checks, asked once.
bool own_gemm_available() {
    static const bool available = [] {
        __builtin_cpu_init();
        return __builtin_cpu_supports("avx512f") != 0;
    }();
    return available;
}

// Whether a product is large enough to wake other threads for: ~0.1 ms of one core.
static bool worth_splitting(std::size_t m, std::size_t n, std::size_t k) { return 2.0 * double(m) * double(n) * double(k) >= double(1 << 24); }

// With more than one thread, a large product is cut into as many pieces of C, each computed by one
// thread: across its columns when op(B) is the larger operand (each thread packs only its columns of
// it), else across its rows. Small products (the GRU's 32-row steps) are not worth waking a thread.
void own_gemm(const float* a, bool trans_a, std::size_t lda, const float* b, bool trans_b, std::size_t ldb,
              float* c, std::size_t ldc, std::size_t m, std::size_t n, std::size_t k, float beta) {
    if (!own_gemm_available()) return openblas_gemm(a, trans_a, lda, b, trans_b, ldb, c, ldc, m, n, k, beta);
    if (m == 0 || n == 0) return;
    const auto threads = static_cast<std::size_t>(num_threads());
    if (threads == 1 || !worth_splitting(m, n, k))
        return gemm_one_thread(a, trans_a, lda, b, trans_b, ldb, c, ldc, m, n, k, beta);
    const bool by_columns = n >= m;
    const std::size_t tile = by_columns ? NR : MR, extent = by_columns ? n : m;
    const std::size_t per = ((extent + tile - 1) / tile + threads - 1) / threads * tile;  // whole tiles a piece
    detail::parallel_for((extent + per - 1) / per, [&](std::size_t piece) {
        const std::size_t from = piece * per, count = std::min(per, extent - from);
        if (by_columns)  // C[:, from : from + count] = op(A) op(B)[:, from : from + count]
            gemm_one_thread(a, trans_a, lda, trans_b ? b + from * ldb : b + from, trans_b, ldb, c + from, ldc, m, count, k, beta);
        else  // C[from : from + count, :] = op(A)[from : from + count, :] op(B)
            gemm_one_thread(trans_a ? a + from : a + from * lda, trans_a, lda, b, trans_b, ldb, c + from * ldc, ldc, count, n, k, beta);
    });
}

// A weight packed whole, for packed_product: the panels pack_b makes of op(B) [k, n] with one K-slice.
void pack_panels(const float* b, bool trans_b, std::size_t n, std::size_t k, float* out) {
    if (n > 0 && k > 0) pack_b(b, trans_b, trans_b ? k : n, 0, k, 0, n, out);
}

// Decoding's product with a packed weight (kernels/packed_linear.cpp): y [m, n] += x [m, k] W^T, where
// W's panel q holds its rows [NR q, NR q + NR) as [k][NR], zero-padded: the layout pack_b gives op(B)
// = W^T, packed once for the whole run instead of at every call. The same micro-kernel, the same
// packing of x; threads split the panels, each streaming its share of W past the rows of x.
void packed_product(const float* x, std::size_t m, std::size_t k, const float* panels, std::size_t n, float* y) {
    if (!own_gemm_available()) return openblas_gemm(x, false, k, panels, true, k, y, n, m, n, k, 1.0f);  // W unpacked
    if (m == 0 || n == 0 || k == 0) return;
    const std::size_t n_panels = (n + NR - 1) / NR;
    const std::size_t threads = worth_splitting(m, n, k) ? std::min<std::size_t>(num_threads(), n_panels) : 1;
    detail::parallel_for(threads, [&](std::size_t t) {
        const std::size_t q0 = n_panels * t / threads, q1 = n_panels * (t + 1) / threads;
        float* packed_x = packed_a_buffer();
        const std::size_t blocks = (m + MC_STREAM - 1) / MC_STREAM;  // as few as fit, of even sizes (whole tiles)
        const std::size_t block = ((m + blocks - 1) / blocks + MR - 1) / MR * MR;
        for (std::size_t ic = 0; ic < m; ic += block) {
            const std::size_t mc = std::min(block, m - ic);
            for (std::size_t pc = 0; pc < k; pc += KC) {
                const std::size_t kc = std::min(KC, k - pc);
                pack_a(x, false, k, ic, mc, pc, kc, packed_x);
                for (std::size_t q = q0; q < q1; ++q) {
                    const float* panel = panels + q * NR * k + pc * NR;  // this pass's slice of panel q
                    const float* next = q + 1 < q1 ? panel + NR * k : nullptr;
                    for (std::size_t ir = 0; ir < mc; ir += MR)
                        tile(std::min(MR, mc - ir), std::min(NR, n - q * NR), true, kc, packed_x + ir * kc, panel,
                             y + (ic + ir) * n + q * NR, n, ir == 0 ? next : nullptr);
                }
            }
        }
    });
}

#else  // not x86-64: OpenBLAS does every product

bool own_gemm_available() { return false; }
void own_gemm(const float* a, bool trans_a, std::size_t lda, const float* b, bool trans_b, std::size_t ldb, float* c,
              std::size_t ldc, std::size_t m, std::size_t n, std::size_t k, float beta) {
    openblas_gemm(a, trans_a, lda, b, trans_b, ldb, c, ldc, m, n, k, beta);
}
void packed_product(const float* x, std::size_t m, std::size_t k, const float* weight, std::size_t n, float* y) {
    openblas_gemm(x, false, k, weight, true, k, y, n, m, n, k, 1.0f);  // (the weight stays unpacked here)
}
void pack_panels(const float*, bool, std::size_t, std::size_t, float*) {}  // (never called: no panels here)

#endif

namespace {
thread_local std::vector<GemmCall>* gemm_log = nullptr;  // bench/train_step's record of products
}  // namespace

}  // namespace tg::kernels

namespace tg {
void set_gemm_log(std::vector<GemmCall>* log) { kernels::gemm_log = log; }
void log_gemm(const GemmCall& call) {
    if (kernels::gemm_log) kernels::gemm_log->push_back(call);
}
}  // namespace tg

namespace tg::kernels {

namespace {
// The products with one row of C or a k of one: attention's weighted sums and their gradients, one per
// sentence, a few thousand multiply-adds, fewer than packing for a register tile costs. Rows of C
// built from SIMD rows (kernels/simd.hpp): a row of A times B, or dot products with B's rows.
void thin_gemm(const float* a, bool trans_a, std::size_t lda, const float* b, bool trans_b, std::size_t ldb, float* c,
               std::size_t ldc, std::size_t m, std::size_t n, std::size_t k, float beta) {
    const simd::Rows& simd = simd::rows();
    constexpr std::size_t kChunk = 256;  // A's row, 256 at a time, gathered when A is transposed
    float row[kChunk];
    for (std::size_t i = 0; i < m; ++i) {
        float* ci = c + i * ldc;
        if (beta == 0.0f) std::fill_n(ci, n, 0.0f);
        for (std::size_t p0 = 0; p0 < k; p0 += kChunk) {
            const std::size_t len = std::min(kChunk, k - p0);
            const float* ai = a + i * lda + p0;
            if (trans_a) {
                for (std::size_t p = 0; p < len; ++p) row[p] = a[(p0 + p) * lda + i];
                ai = row;
            }
            if (!trans_b)  // c[i, :] += a[i, p0:] b[p0:, :]
                simd.row_times(ai, b + p0 * ldb, ldb, ci, n, len);
            else  // c[i, j] += a[i, p0:] . b[j, p0:]
                for (std::size_t j = 0; j < n; ++j) ci[j] += simd.dot(ai, b + j * ldb + p0, len);
        }
    }
}
}  // namespace

// The products that read a weight packed once (PackedWeightsScope) when they can: all of them while
// decoding (each weight's product repeats at every step), and in a training step those of at most
// this many rows (a recurrence's step), where packing B at every call costs about as much as the
// product. A training product of more rows (the output layer over a whole batch, once a step) packs B
// at the call for little, and a second copy of a large weight would be memory for nothing.
constexpr std::size_t kThinRows = 128;

void gemm(const float* a, bool trans_a, std::size_t lda, const float* b, bool trans_b, std::size_t ldb, float* c,
          std::size_t ldc, std::size_t m, std::size_t n, std::size_t k, float beta) {
    log_gemm({trans_a, trans_b, m, n, k, beta});
    num_threads();  // OpenBLAS starts with a thread per core: this sets it to the library's default first
    if (m == 1 || k == 1) return thin_gemm(a, trans_a, lda, b, trans_b, ldb, c, ldc, m, n, k, beta);
    if ((m <= kThinRows || !grad_enabled()) && !trans_a && lda == k && ldc == n && ldb == (trans_b ? k : n))  // B a weight packed once already?
        if (const float* panels = packed_operand(b, trans_b, n, k)) {
            if (beta == 0.0f) std::fill_n(c, m * n, 0.0f);
            return packed_product(a, m, k, panels, n, c);
        }
    if (!grad_enabled() && own_gemm_available()) return own_gemm(a, trans_a, lda, b, trans_b, ldb, c, ldc, m, n, k, beta);
    openblas_gemm(a, trans_a, lda, b, trans_b, ldb, c, ldc, m, n, k, beta);
}

}  // namespace tg::kernels
