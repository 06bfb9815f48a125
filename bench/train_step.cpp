// bench/train_step: the translator's training step (or greedy decoding) on random data of exact
// sizes, timed, with two limits measured in the same run: limit_ms, the time the same matrix
// products take alone, by the routine tapegrad uses ("products": our AVX-512 kernel or OpenBLAS),
// and hw_limit_ms, what the hardware allows for them (their
// FLOPs at the machine's peak sgemm rate, or their bytes at its memory bandwidth). Prints one JSON line. bench/pytorch_reference.py is the same model in PyTorch.
//   train_step --batch 32 --emb 64 --hidden 128 --attn 128 --vocab 40 --src-len 20 --tgt-len 20
//              --steps 50 --threads 1 [--no-attention] [--decode [--beam K]] [--vary-lengths]
//              [--deep-output N] [--dropout P] [--label-smoothing E]
// make real's model and setting: --emb 128 --hidden 256 --attn 128 --vocab 4000 --deep-output 256
// --dropout 0.2 --label-smoothing 0.1 --threads 2 --vary-lengths.
// --vary-lengths trains on what users train on: sentences of 1 to 30 words, bucketed by length into
// batches of varying shapes (see varying_pairs), and reports resident memory along the run.
#include <cblas.h>
#include <fmt/format.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <optional>
#include <cstdio>

#include "args.hpp"
#include "decode.hpp"
#include "commands.hpp"
#include "kernels/threads.hpp"
#include "kernels/kernels.hpp"
#include "kernels/profile.hpp"
#include "bench/alloc_counter.hpp"
#include "model.hpp"
#include "optim/adam.hpp"
#include "tapegrad.hpp"

using namespace tg;
using namespace translator;
using Clock = std::chrono::steady_clock;

namespace {

double ms_since(Clock::time_point t) { return std::chrono::duration<double, std::milli>(Clock::now() - t).count(); }

// Resident memory now (not the peak), from /proc/self/statm: compared after the warm-up and at the
// end, it shows whether memory grows with the number of steps.
double current_rss_mb() {
    std::FILE* f = std::fopen("/proc/self/statm", "r");
    if (!f) return -1;
    unsigned long size = 0, resident = 0;
    const int got = std::fscanf(f, "%lu %lu", &size, &resident);
    std::fclose(f);
    return got == 2 ? static_cast<double>(resident) * static_cast<double>(sysconf(_SC_PAGESIZE)) / (1024.0 * 1024.0) : -1;
}

double median(std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v.empty() ? 0 : v[v.size() / 2];
}

// One product by the routine tapegrad's ops use (kernels::gemm: OpenBLAS while training, ours for
// AVX-512 while decoding where it is compiled in). (`openblas`: OpenBLAS whatever the build.)
void product(const GemmCall& g, const float* a, const float* b, float* c, bool openblas = false) {
    const std::size_t lda = g.trans_a ? g.m : g.k, ldb = g.trans_b ? g.k : g.n;
    if (!openblas) return tg::kernels::gemm(a, g.trans_a, lda, b, g.trans_b, ldb, c, g.n, g.m, g.n, g.k, g.beta);
    cblas_sgemm(CblasRowMajor, g.trans_a ? CblasTrans : CblasNoTrans, g.trans_b ? CblasTrans : CblasNoTrans, int(g.m), int(g.n),
                int(g.k), 1.0f, a, int(lda), b, int(ldb), g.beta, c, int(g.n));
}

// The logged products alone, by the same routine, on buffers big enough for the largest (allocated once).
struct Replay {
    const std::vector<GemmCall>& calls;
    std::vector<float> A, B, C;
    explicit Replay(const std::vector<GemmCall>& log) : calls(log) {
        std::size_t a = 1, b = 1, c = 1;
        for (const GemmCall& g : calls) a = std::max(a, g.m * g.k), b = std::max(b, g.k * g.n), c = std::max(c, g.m * g.n);
        A.assign(a, 0.01f);
        B.assign(b, 0.02f);
        C.assign(c, 0.0f);
    }
    double ms() {
        const auto start = Clock::now();
        for (const GemmCall& g : calls) product(g, A.data(), B.data(), C.data());
        return ms_since(start);
    }
};

// What this machine allows, measured at the start of the run: the rate of a large square sgemm (the
// best rate OpenBLAS or our own product reaches here) and the rate at which a buffer far larger than
// the caches is read.
// Measured in a child process, so that its 512 MB of buffers do not count in this process's peak
// memory; with the thread count the step uses.
struct MachineLimits {
    double gflop_per_s = 0, gb_per_s = 0;
};

MachineLimits measure_machine(int threads) {
    int fds[2];
    if (::pipe(fds) != 0) return {};
    const pid_t child = ::fork();
    if (child == 0) {
        ::close(fds[0]);
        tg::set_num_threads(threads);
        MachineLimits m;
        // The best rate over square products of a few sizes (the smaller ones run from the caches).
        for (const int n : {256, 512, 1024, 1536}) {
            std::vector<float> a(static_cast<std::size_t>(n) * n, 0.01f), b(a.size(), 0.02f), c(a.size());
            const int reps = n <= 512 ? 40 : 6;
            const auto u = static_cast<std::size_t>(n);
            for (const bool openblas : {true, false}) {
                double best = 1e30;
                for (int i = 0; i < reps; ++i) {
                    const auto start = Clock::now();
                    product({false, false, u, u, u, 0.0f}, a.data(), b.data(), c.data(), openblas);
                    best = std::min(best, ms_since(start));
                }
                m.gflop_per_s = std::max(m.gflop_per_s, 2.0 * n * n * n / (best * 1e6));
            }
        }
        double best = 1e30;
        std::vector<float> big(std::size_t{128} << 20, 1.0f);  // 512 MB
        volatile float sink = 0;
        for (int i = 0; i < 4; ++i) {
            const auto start = Clock::now();
            float acc[16] = {};
            for (std::size_t k = 0; k < big.size(); k += 16)
                for (int j = 0; j < 16; ++j) acc[j] += big[k + static_cast<std::size_t>(j)];
            best = std::min(best, ms_since(start));
            for (float x : acc) sink = sink + x;
        }
        m.gb_per_s = static_cast<double>(big.size() * sizeof(float)) / (best * 1e6);
        [[maybe_unused]] const auto written = ::write(fds[1], &m, sizeof m);
        ::_exit(0);
    }
    ::close(fds[1]);
    MachineLimits m;
    if (child < 0 || ::read(fds[0], &m, sizeof m) != static_cast<ssize_t>(sizeof m)) m = {};
    ::close(fds[0]);
    if (child > 0) ::waitpid(child, nullptr, 0);
    return m;
}

// The hardware's limit for a step: its products' FLOPs at the peak sgemm rate, or the bytes they must
// bring from memory at the measured bandwidth, whichever takes longer. The bytes counted are each
// product's largest operand, read once (the weights of a thin decoding product, the [rows, vocabulary]
// gradient of the output layer): the traffic no blocking avoids. In milliseconds.
double hardware_limit_ms(const std::vector<GemmCall>& calls, const MachineLimits& m) {
    if (m.gflop_per_s <= 0 || m.gb_per_s <= 0) return 0;
    double flops = 0, bytes = 0;
    for (const GemmCall& g : calls) {
        flops += 2.0 * static_cast<double>(g.m * g.n * g.k);
        bytes += 4.0 * static_cast<double>(std::max({g.m * g.k, g.k * g.n, g.m * g.n}));
    }
    return std::max(flops / (m.gflop_per_s * 1e6), bytes / (m.gb_per_s * 1e6));
}

// The step's products grouped by shape (trans_a, trans_b, m, n, k), each group timed with raw sgemm:
// where the limit's time goes, and which products would gain from being stacked into bigger ones.
void print_products(const std::vector<GemmCall>& calls) {
    std::vector<std::vector<GemmCall>> groups;
    for (const GemmCall& g : calls) {
        auto same = [&](const std::vector<GemmCall>& grp) {
            const GemmCall& h = grp[0];
            return h.trans_a == g.trans_a && h.trans_b == g.trans_b && h.m == g.m && h.n == g.n && h.k == g.k;
        };
        auto it = std::find_if(groups.begin(), groups.end(), same);
        if (it == groups.end()) groups.push_back({g});
        else it->push_back(g);
    }
    fmt::print(stderr, "{:>5} {:>5} {:>5} {:>5} {:>5} {:>6} {:>9} {:>8}\n", "ta", "tb", "m", "n", "k", "count", "ms", "GFLOP/s");
    for (const auto& grp : groups) {
        Replay r(grp);
        std::vector<double> t;
        for (int i = 0; i < 15; ++i) t.push_back(r.ms());
        const GemmCall& g = grp[0];
        const double ms = median(t), flop = 2.0 * static_cast<double>(g.m * g.n * g.k * grp.size());
        fmt::print(stderr, "{:>5} {:>5} {:>5} {:>5} {:>5} {:>6} {:>9.3f} {:>8.1f}\n", g.trans_a, g.trans_b, g.m, g.n, g.k,
                   grp.size(), ms, flop / ms / 1e6);
    }
}

// SplitMix64: a generator simple enough to write again in bench/pytorch_reference.py, so that both
// frameworks train on exactly the same sentence lengths and batches.
struct SplitMix {
    std::uint64_t state;
    std::uint64_t next() {
        std::uint64_t z = (state += 0x9e3779b97f4a7c15ull);
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
        return z ^ (z >> 31);
    }
    std::size_t below(std::size_t n) { return static_cast<std::size_t>(next() % n); }
};

// Pairs like the demo's data: a source of 1-30 words, a target of the source's length give or take 2
// (at least 1), random words. Batches as the translator's training makes them (text::plan_batches:
// sorted by length, cut into batches of B, in a shuffled order), so shapes vary from step to step.
std::vector<text::EncodedPair> varying_pairs(std::size_t n, std::size_t vocab) {
    SplitMix g{42};
    std::vector<text::EncodedPair> pairs(n);
    for (auto& p : pairs) {
        const std::size_t s = 1 + g.below(30);
        const std::size_t t = std::max<std::size_t>(1, s + g.below(5) - std::min<std::size_t>(s, 2));
        for (std::size_t j = 0; j < s; ++j) p.source.push_back(static_cast<std::int32_t>(4 + g.below(vocab - 4)));
        p.source.push_back(text::Vocab::kEos);
        for (std::size_t j = 0; j < t; ++j) p.target.push_back(static_cast<std::int32_t>(4 + g.below(vocab - 4)));
    }
    return pairs;
}

// plan_batches without its generator: sort by (source, target) length, cut, shuffle the batches.
std::vector<std::vector<std::size_t>> varying_batches(const std::vector<text::EncodedPair>& pairs, std::size_t batch) {
    std::vector<std::size_t> order(pairs.size());
    for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
    std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
        return std::pair(pairs[a].source.size(), pairs[a].target.size()) < std::pair(pairs[b].source.size(), pairs[b].target.size());
    });
    std::vector<std::vector<std::size_t>> batches;
    for (std::size_t start = 0; start < order.size(); start += batch)
        batches.emplace_back(order.begin() + static_cast<std::ptrdiff_t>(start),
                             order.begin() + static_cast<std::ptrdiff_t>(std::min(order.size(), start + batch)));
    SplitMix g{7};
    for (std::size_t i = batches.size(); i > 1; --i) std::swap(batches[i - 1], batches[g.below(i)]);
    return batches;
}

}  // namespace

int main(int argc, char** argv) {
    try {
        Args args("train_step", "[options]",
                  {{"--batch", "N", "sentences per batch", "32"}, {"--emb", "N", "embedding size", "64"},
                   {"--hidden", "N", "GRU size", "128"}, {"--attn", "N", "attention size", "128"},
                   {"--vocab", "N", "words per language (with the 4 specials)", "40"},
                   {"--src-len", "N", "source length, every sentence (with </s>)", "20"},
                   {"--tgt-len", "N", "target length, every sentence (with </s>)", "20"},
                   {"--steps", "N", "timed steps after 5 warm-up steps", "50"}, kThreadsOption,
                   {"--no-attention", "", "the RNNencdec baseline", ""}, {"--decode", "", "time greedy decoding instead", ""},
                   {"--beam", "K", "with --decode: beam search of width K (K rows a sentence, </s> an ordinary word)", "1"},
                   {"--products", "", "also print, to stderr, the step's matrix products grouped by shape, with their raw time", ""},
                   {"--no-limit", "", "skip the raw-sgemm replay between steps (for profiling the step alone; limit_ms is 0)", ""},
                   {"--vary-lengths", "", "sentences of 1-30 words in batches of varying shapes, as in real training (no limit_ms)", ""},
                   {"--deep-output", "N", "a maxout layer of N units before the softmax (make real: 256; 0: none)", "0"},
                   {"--dropout", "P", "training: dropout on the embeddings and the output layer's input (make real: 0.2)", "0"},
                   {"--label-smoothing", "E", "training: label smoothing of the loss (make real: 0.1)", "0"},
                   {"--arch", "rnnsearch|transformer", "the model (transformer: --model-dim, --ff-dim, --layers, --heads)", "rnnsearch"},
                   {"--model-dim", "N", "transformer: d_model", "64"}, {"--ff-dim", "N", "transformer: d_ff", "256"},
                   {"--layers", "N", "transformer: encoder and decoder layers each", "2"}, {"--heads", "N", "transformer: heads", "4"}},
                  Argv(argv + 1, argv + argc));
        const auto B = static_cast<std::size_t>(args.integer("--batch", 1, 4096));
        const auto V = static_cast<std::size_t>(args.integer("--vocab", 5, 1000000));
        const auto S = static_cast<std::size_t>(args.integer("--src-len", 2, 10000));
        const auto T = static_cast<std::size_t>(args.integer("--tgt-len", 2, 10000));
        const auto steps = static_cast<int>(args.integer("--steps", 1, 1000000));
        const auto beam = static_cast<std::size_t>(args.integer("--beam", 1, 1000));
        const bool decode = args.flag("--decode"), vary = args.flag("--vary-lengths"), no_limit = args.flag("--no-limit") || vary;
        // Before anything else runs: the machine's own limits, for hw_limit_ms (in a child process).
        const MachineLimits machine = no_limit ? MachineLimits{} : measure_machine(static_cast<int>(args.integer("--threads", 1, 256)));
        apply_threads(args);

        ModelConfig c;
        c.src_vocab = c.tgt_vocab = V;
        c.emb = static_cast<std::size_t>(args.integer("--emb", 1, 100000));
        c.hidden = static_cast<std::size_t>(args.integer("--hidden", 1, 100000));
        c.attn = static_cast<std::size_t>(args.integer("--attn", 1, 100000));
        c.attention = args.flag("--no-attention") ? "none" : "additive";
        c.deep_output = static_cast<std::size_t>(args.integer("--deep-output", 0, 100000));
        c.arch = args.text("--arch");
        if (c.arch != "rnnsearch" && c.arch != "transformer") throw UsageError(fmt::format("--arch {}: rnnsearch or transformer", c.arch));
        c.model_dim = static_cast<std::size_t>(args.integer("--model-dim", 1, 100000));
        c.ff_dim = static_cast<std::size_t>(args.integer("--ff-dim", 1, 1000000));
        c.layers = static_cast<std::size_t>(args.integer("--layers", 1, 64));
        c.heads = static_cast<std::size_t>(args.integer("--heads", 1, 1024));
        Generator gen(1);
        const std::unique_ptr<TranslationModel> built = make_model(c, gen);
        TranslationModel& model = *built;
        model.set_dropout(static_cast<float>(args.number("--dropout", 0.0, 0.99)));
        model.set_label_smoothing(static_cast<float>(args.number("--label-smoothing", 0.0, 1.0)));
        // Training only: decoding holds no optimizer state, as `translator translate` and `eval` hold none.
        std::optional<Adam> opt;
        if (!decode) opt.emplace(model.named_parameters(), AdamOptions{.lr = 1e-3});

        std::vector<text::EncodedPair> pairs(B);  // random words, every sentence full length
        for (auto& p : pairs) {
            for (std::size_t j = 0; j + 1 < S; ++j) p.source.push_back(static_cast<std::int32_t>(4 + gen.next_u64() % (V - 4)));
            p.source.push_back(text::Vocab::kEos);
            for (std::size_t j = 0; j + 1 < T; ++j) p.target.push_back(static_cast<std::int32_t>(4 + gen.next_u64() % (V - 4)));
        }
        std::vector<std::size_t> all(B);
        for (std::size_t i = 0; i < B; ++i) all[i] = i;
        text::Batch batch = text::make_batch(pairs, all);
        std::vector<std::vector<std::int32_t>> sources;
        for (const auto& p : pairs) sources.push_back(p.source);
        // --vary-lengths: 4,000 pairs of 1-30 words, ~125 batches of different shapes, in turn.
        const std::vector<text::EncodedPair> varying = vary ? varying_pairs(4000, V) : std::vector<text::EncodedPair>{};
        const auto plan = vary ? varying_batches(varying, B) : std::vector<std::vector<std::size_t>>{};
        std::size_t next_batch = 0;
        std::size_t tokens_done = 0;  // target tokens of the timed steps (varies with the batch)

        // Decoding reads the output weight packed (kernels/packed.hpp); what packing costs, once per run
        // (median of 5: the process's first packs of a large weight also pay for fresh memory).
        std::vector<double> pack_t;
        PackedWeight packed;
        for (int i = 0; i < 5 && decode; ++i) {
            const auto t0 = Clock::now();
            packed = PackedWeight(model.output_weight().value());
            pack_t.push_back(ms_since(t0));
        }

        Tape tape;
        TapeScope scope(tape);
        std::vector<double> forward_t, backward_t, update_t;  // where a training step's time goes
        Generator dropout_stream(1);  // (used when --dropout is given)
        auto one_step = [&] {
            if (vary) {
                batch = text::make_batch(varying, plan[next_batch++ % plan.size()]);
                tokens_done += batch.size * batch.tgt_len;
                if (decode) {
                    sources.clear();
                    for (std::size_t i : batch.index) sources.push_back(varying[i].source);
                }
            } else {
                tokens_done += B * T;
            }
            if (decode) {  // decoding for exactly T steps, the output weight packed once as eval and translate do
                const DecodeOptions o{.max_len = vary ? batch.tgt_len : T, .stop_at_eos = false, .packed_output = &packed};
                if (beam > 1) beam_search(model, sources, beam, o);
                else greedy(model, sources, o);
                return;
            }
            const auto t0 = Clock::now();
            tape.clear();
            opt->zero_grad();
            std::chrono::steady_clock::time_point t1, t2;
            {
                PackedWeightsScope packed(model.parameters());  // as the translator's train_step
                Var loss = model.loss(batch, &dropout_stream);
                t1 = Clock::now();
                loss.backward();
                t2 = Clock::now();
            }
            clip_grad_norm(opt->params(), 1.0f);
            opt->step();
            forward_t.push_back(std::chrono::duration<double, std::milli>(t1 - t0).count());
            backward_t.push_back(std::chrono::duration<double, std::milli>(t2 - t1).count());
            update_t.push_back(ms_since(t2));
        };
        for (int i = 0; i < 5; ++i) one_step();  // warm-up: the tape grows its buffers
        std::vector<GemmCall> calls;
        set_gemm_log(&calls);
        one_step();
        set_gemm_log(nullptr);
        // The same products split into the forward's and the backward's, for the breakdown.
        std::vector<GemmCall> forward_calls;
        if (!decode) {
            tape.clear();
            set_gemm_log(&forward_calls);
            model.loss(batch, &dropout_stream);
            set_gemm_log(nullptr);
        }
        const std::vector<GemmCall> backward_calls(calls.begin() + static_cast<std::ptrdiff_t>(forward_calls.size()), calls.end());
        // (Without the limit, no replay buffers either: with a large vocabulary they would add
        // ~200 MB of the benchmark's own to the memory it reports.)
        const std::vector<GemmCall> none;
        Replay replay_forward(no_limit ? none : forward_calls), replay_backward(no_limit ? none : backward_calls);
        forward_t.clear();
        backward_t.clear();
        update_t.clear();
        forward_t.reserve(static_cast<std::size_t>(steps));
        backward_t.reserve(static_cast<std::size_t>(steps));
        update_t.reserve(static_cast<std::size_t>(steps));
        double flops = 0;
        for (const GemmCall& g : calls) flops += 2.0 * static_cast<double>(g.m * g.n * g.k);

        Replay replay(no_limit ? none : calls);
        std::vector<double> times, limits;
        times.reserve(static_cast<std::size_t>(steps));
        limits.reserve(static_cast<std::size_t>(steps));
        const double rss_start = current_rss_mb();
        const std::size_t allocs_before = tg::bench::allocations();
        std::string rss_along;  // resident memory at 1/8, 1/4, 1/2 and all of the run: flat or growing?
        tokens_done = 0;
        rusage cpu_start{};
        getrusage(RUSAGE_SELF, &cpu_start);
        const auto run_start = Clock::now();
        for (int i = 0; i < steps; ++i) {  // steps and raw products interleaved: the ratio is measured in one run
            const auto start = Clock::now();
            one_step();
            times.push_back(ms_since(start));
            if (!no_limit) limits.push_back(replay.ms());
            if (i + 1 == steps / 8 || i + 1 == steps / 4 || i + 1 == steps / 2 || i + 1 == steps)
                rss_along += fmt::format("{}\"{}\": {:.1f}", rss_along.empty() ? "" : ", ", i + 1, current_rss_mb());
        }
        const double run_s = ms_since(run_start) / 1000.0;
        rusage cpu_end{};
        getrusage(RUSAGE_SELF, &cpu_end);  // CPU over wall time: a check that --threads 1 is one core
        auto seconds = [](const timeval& t) { return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_usec) / 1e6; };
        const double cpu_s = seconds(cpu_end.ru_utime) - seconds(cpu_start.ru_utime) + seconds(cpu_end.ru_stime) -
                             seconds(cpu_start.ru_stime);
        const double allocs = static_cast<double>(tg::bench::allocations() - allocs_before) / steps;
        const double rss_end = current_rss_mb();
        std::vector<double> forward_limit, backward_limit;
        for (int i = 0; i < 10 && !decode && !no_limit; ++i) {
            forward_limit.push_back(replay_forward.ms());
            backward_limit.push_back(replay_backward.ms());
        }
        if (args.flag("--products")) print_products(calls);
        rusage usage{};
        getrusage(RUSAGE_SELF, &usage);
        const double med = median(times), limit = median(limits), over_limit = limit > 0 ? med / limit : 0;
        const double hw_limit = hardware_limit_ms(calls, machine);
        fmt::print("{{\"framework\": \"tapegrad\", \"mode\": \"{}\", \"arch\": \"{}\", \"batch\": {}, \"emb\": {}, \"hidden\": {}, \"attn\": {}, "
                   "\"vocab\": {}, \"src_len\": {}, \"tgt_len\": {}, \"threads\": {}, \"attention\": {}, \"steps\": {}, "
                   "\"median_ms\": {:.3f}, \"min_ms\": {:.3f}, \"tgt_tokens_per_s\": {:.0f}, \"peak_rss_mb\": {:.1f}, "
                   "\"allocs_per_step\": {:.1f}, \"limit_ms\": {:.3f}, \"median_over_limit\": {:.2f}, \"gemms_per_step\": {}, "
                   "\"gflop_per_step\": {:.4f}, \"forward_ms\": {:.3f}, \"forward_limit_ms\": {:.3f}, \"backward_ms\": {:.3f}, "
                   "\"backward_limit_ms\": {:.3f}, \"update_ms\": {:.3f}, \"rss_start_mb\": {:.1f}, \"rss_end_mb\": {:.1f}, "
                   "\"vary_lengths\": {}, \"rss_mb_after_steps\": {{{}}}, \"tape_peak_mb\": {:.1f}, \"tape_reserved_mb\": {:.1f}, "
                   "\"hw_limit_ms\": {:.3f}, \"median_over_hw_limit\": {:.2f}, \"peak_gflop_per_s\": {:.1f}, \"memory_gb_per_s\": {:.1f}, \"beam\": {}, \"pack_ms\": {:.3f}, \"cpu_over_wall\": {:.2f}, \"products\": \"{}\", \"openblas_kernel\": \"{}\"}}\n",
                   decode ? "decode" : "train", c.arch, B, c.emb, c.hidden, c.attn, V, S, T, num_threads(), c.has_attention(), steps, med,
                   *std::min_element(times.begin(), times.end()), vary ? static_cast<double>(tokens_done) / run_s : static_cast<double>(B * T) / (med / 1000.0),
                   static_cast<double>(usage.ru_maxrss) / 1024.0, allocs, limit, over_limit,
                   calls.size(), flops / 1e9, median(forward_t), median(forward_limit), median(backward_t), median(backward_limit),
                   median(update_t), rss_start, rss_end, vary, rss_along,
                   static_cast<double>(tape.arena().peak_bytes()) / (1024.0 * 1024.0),
                   static_cast<double>(tape.arena().reserved_bytes()) / (1024.0 * 1024.0), hw_limit,
                   hw_limit > 0 ? med / hw_limit : 0, machine.gflop_per_s, machine.gb_per_s, decode ? beam : 0,
                   pack_t.empty() ? 0.0 : median(pack_t), cpu_s / run_s, !tg::kernels::own_gemm_available() ? "openblas" : decode ? "tapegrad-avx512" : "openblas; thin products on weights packed once, tapegrad-avx512",
                   openblas_get_corename());
        return 0;
    } catch (const HelpRequested& h) {
        std::fputs(h.usage.c_str(), stdout);
        return 0;
    } catch (const std::exception& e) {
        fmt::print(stderr, "train_step: {}\n", e.what());
        return 2;
    }
}
