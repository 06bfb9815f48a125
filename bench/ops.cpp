// bench/ops: the engine's own costs, printed as one JSON object.
//   record_overhead_ns  time per recorded small elementwise op beyond its arithmetic
//   matmul_*            the matmul op against a raw call of the product routine it uses (our AVX-512
//                       kernel, or cblas_sgemm), same operands (ratio ~1 is ideal); and OpenBLAS's time
//   allocs_per_step     heap allocations in a warmed-up forward+backward step of a small loop
// Ratios are measured in one run with the two sides interleaved, since the machine is shared.
#include <cblas.h>
#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <vector>

#include "autograd/autograd.hpp"
#include "kernels/kernels.hpp"
#include "kernels/threads.hpp"
#include "bench/alloc_counter.hpp"

namespace {

double now_ns() {
    return std::chrono::duration<double, std::nano>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

double median(std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v[v.size() / 2];
}

// Median time of f() over `reps` runs, in ns.
template <class F>
double time_ns(F&& f, int reps) {
    std::vector<double> t;
    for (int i = 0; i < reps; ++i) {
        const double start = now_ns();
        f();
        t.push_back(now_ns() - start);
    }
    return median(t);
}

}  // namespace

int main() {
    using namespace tg;
    set_num_threads(1);
    Generator gen(1);
    Tape tape;
    TapeScope scope(tape);

    // --- overhead per record: a chain of 1000 adds on 16 floats, against the same adds in a loop ---
    constexpr int kChain = 1000;
    constexpr std::size_t kWidth = 16;
    Parameter x(Tensor::randn({kWidth}, gen)), b(Tensor::randn({kWidth}, gen));
    auto chain = [&] {
        tape.clear();
        Var v = x;
        for (int i = 0; i < kChain; ++i) v = v + b;
    };
    std::vector<float> raw_a(x.value().flat().begin(), x.value().flat().end()), raw_out(kWidth);
    std::vector<std::vector<float>> raw_chain(kChain, std::vector<float>(kWidth));  // one buffer per value, like the tape
    auto raw = [&] {
        const float* in = raw_a.data();
        for (int i = 0; i < kChain; ++i) {
            float* out = raw_chain[static_cast<std::size_t>(i)].data();
            for (std::size_t k = 0; k < kWidth; ++k) out[k] = in[k] + b.value().data()[k];
            in = out;
        }
    };
    chain();  // warm up the tape
    std::vector<double> op_t, raw_t;
    for (int r = 0; r < 15; ++r) {
        op_t.push_back(time_ns(chain, 5));
        raw_t.push_back(time_ns(raw, 5));
    }
    const double overhead = (median(op_t) - median(raw_t)) / kChain;

    // --- matmul op against raw sgemm, same operands ---
    struct Case {
        std::size_t m, k, n;
        double op_ns = 0, raw_ns = 0, openblas_ns = 0;
    };
    std::vector<Case> cases = {{32, 128, 384}, {640, 256, 128}};
    for (Case& c : cases) {
        Parameter a(Tensor::randn({c.m, c.k}, gen)), w(Tensor::randn({c.k, c.n}, gen));
        std::vector<float> out(c.m * c.n);
        auto op = [&] {  // as in a training loop: the output reuses its slot of the previous step
            tape.clear();
            Var y = matmul(a, w);
            (void)y;
        };
        auto openblas = [&] {
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, static_cast<int>(c.m), static_cast<int>(c.n),
                        static_cast<int>(c.k), 1.0f, a.value().data(), static_cast<int>(c.k), w.value().data(),
                        static_cast<int>(c.n), 0.0f, out.data(), static_cast<int>(c.n));
        };
        auto raw = [&] {
            tg::kernels::gemm(a.value().data(), false, c.k, w.value().data(), false, c.n, out.data(), c.n, c.m, c.n, c.k, 0.0f);
        };
        const int reps = c.m * c.k * c.n > 10'000'000 ? 20 : 200;
        std::vector<double> o, s, b;
        for (int r = 0; r < 11; ++r) {
            o.push_back(time_ns(op, reps));
            s.push_back(time_ns(raw, reps));
            b.push_back(time_ns(openblas, reps));
        }
        c.op_ns = median(o);
        c.raw_ns = median(s);
        c.openblas_ns = median(b);
    }

    // --- allocations per warmed-up step: a recorded MLP step with backward ---
    Parameter w1(Tensor::randn({16, 32}, gen, 0.1f)), b1(Tensor::zeros({32})), w2(Tensor::randn({32, 4}, gen, 0.1f));
    const Tensor input = Tensor::randn({8, 16}, gen);
    const std::vector<std::int32_t> labels = {0, 1, 2, 3, 0, 1, 2, 3};
    auto step = [&] {
        tape.clear();
        Var h = tanh(matmul(constant(input), w1) + b1);
        Var loss = cross_entropy(matmul(h, w2), labels);
        loss.backward();
    };
    step();
    step();
    const std::size_t before = tg::bench::allocations();
    for (int i = 0; i < 10; ++i) step();
    const double allocs_per_step = static_cast<double>(tg::bench::allocations() - before) / 10.0;

    fmt::print("{{\"record_overhead_ns\": {:.1f}, \"record_overhead_target_ns\": 300, ", overhead);
    for (const Case& c : cases)
        fmt::print("\"matmul_{}x{}x{}\": {{\"op_us\": {:.2f}, \"raw_us\": {:.2f}, \"ratio\": {:.3f}, \"openblas_us\": {:.2f}}}, ",
                   c.m, c.k, c.n, c.op_ns / 1e3, c.raw_ns / 1e3, c.op_ns / c.raw_ns, c.openblas_ns / 1e3);
    fmt::print("\"matmul_ratio_target\": 1.10, \"allocs_per_step\": {}, \"allocs_per_step_target\": 0}}\n",
               allocs_per_step);
}
