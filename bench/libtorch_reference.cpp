// The translator's model (docs/model.md) in libtorch, the PyTorch C++ API, written as a C++ user of
// libtorch would (torch::nn::Embedding, GRU, GRUCell, Linear; torch::optim::Adam), timed like
// bench/train_step: same flags, same JSON keys. The peer a C++ user would pick instead of tapegrad.
// Built only where Debian's libtorch-dev is installed (bench/meson.build).
//
//   build/bench/libtorch_reference --batch 32 --emb 64 --hidden 128 --attn 128 --vocab 40
//       --src-len 20 --tgt-len 20 --steps 50 --threads 1 [--no-attention] [--decode [--beam K]]
//
// glibc returns freed memory to the kernel by default, so libtorch pages its tensors in again every
// step; bench/compare.sh runs it with malloc told to keep its memory (GLIBC_TUNABLES), its best.
#include <sys/resource.h>
#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <string>
#include <vector>

extern "C" void openblas_set_num_threads(int);
extern "C" char* openblas_get_corename(void);  // the kernels OpenBLAS chose (or was pinned to)

namespace {

constexpr int64_t kPad = 0, kBos = 2, kEos = 3;

struct RNNSearchImpl : torch::nn::Module {
    RNNSearchImpl(int64_t vocab, int64_t emb, int64_t hidden, int64_t attn, bool attention)
        : attention(attention),
          src_embed(register_module("src_embed", torch::nn::Embedding(torch::nn::EmbeddingOptions(vocab, emb).padding_idx(kPad)))),
          tgt_embed(register_module("tgt_embed", torch::nn::Embedding(torch::nn::EmbeddingOptions(vocab, emb).padding_idx(kPad)))),
          encoder(register_module("encoder", torch::nn::GRU(torch::nn::GRUOptions(emb, hidden).batch_first(true).bidirectional(true)))),
          bridge(register_module("bridge", torch::nn::Linear(hidden, hidden))),
          decoder(register_module("decoder", torch::nn::GRUCell(emb + 2 * hidden, hidden))),
          output(register_module("output", torch::nn::Linear(3 * hidden + emb, vocab))) {
        if (attention) {
            query = register_module("query", torch::nn::Linear(torch::nn::LinearOptions(hidden, attn).bias(false)));
            key = register_module("key", torch::nn::Linear(2 * hidden, attn));
            v = register_parameter("v", torch::empty({attn}).uniform_(-1.0 / std::sqrt(double(attn)), 1.0 / std::sqrt(double(attn))));
        }
    }

    struct Encoded {
        torch::Tensor annotations, keys, fixed, s;
    };

    Encoded encode(const torch::Tensor& src) {
        auto [annotations, h_n] = encoder->forward(src_embed->forward(src));
        Encoded e;
        e.annotations = annotations;
        e.s = torch::tanh(bridge->forward(h_n[1]));  // s_0 from the backward state at the first word
        if (attention) e.keys = key->forward(annotations);
        else e.fixed = torch::cat({h_n[0], h_n[1]}, 1);
        return e;
    }

    // One decoder step: the new state and the logits.
    std::pair<torch::Tensor, torch::Tensor> step(const Encoded& e, const torch::Tensor& s, const torch::Tensor& y_prev) {
        torch::Tensor c = e.fixed;
        if (attention) {
            torch::Tensor scores = torch::matmul(torch::tanh(query->forward(s).unsqueeze(1) + e.keys), v);  // [B, S]
            c = torch::bmm(torch::softmax(scores, 1).unsqueeze(1), e.annotations).squeeze(1);
        }
        torch::Tensor next = decoder->forward(torch::cat({y_prev, c}, 1), s);
        return {next, output->forward(torch::cat({next, c, y_prev}, 1))};
    }

    torch::Tensor loss(const torch::Tensor& src, const torch::Tensor& dec_in, const torch::Tensor& dec_out) {
        Encoded e = encode(src);
        torch::Tensor y = tgt_embed->forward(dec_in), s = e.s;
        std::vector<torch::Tensor> logits;
        for (int64_t i = 0; i < dec_in.size(1); ++i) {
            auto [next, l] = step(e, s, y.select(1, i));
            s = next;
            logits.push_back(l);
        }
        torch::Tensor all = torch::stack(logits, 1);
        return torch::nn::functional::cross_entropy(all.reshape({-1, all.size(2)}), dec_out.reshape({-1}),
                                                    torch::nn::functional::CrossEntropyFuncOptions().ignore_index(kPad));
    }

    void greedy(const torch::Tensor& src, int64_t steps) {
        torch::NoGradGuard no_grad;
        Encoded e = encode(src);
        torch::Tensor s = e.s, prev = torch::full({src.size(0)}, kBos, torch::kLong);
        for (int64_t i = 0; i < steps; ++i) {
            auto [next, logits] = step(e, s, tgt_embed->forward(prev));
            s = next;
            prev = logits.argmax(1);
        }
    }

    // Beam search of width k for `steps` steps (</s> an ordinary word, as train_step --beam).
    void beam(const torch::Tensor& src, int64_t steps, int64_t k) {
        torch::NoGradGuard no_grad;
        const int64_t B = src.size(0);
        Encoded e = encode(src);
        auto rep = [&](const torch::Tensor& t) { return t.defined() ? t.repeat_interleave(k, 0) : t; };
        e = {rep(e.annotations), rep(e.keys), rep(e.fixed), rep(e.s)};
        torch::Tensor scores = torch::full({B, k}, -std::numeric_limits<float>::infinity());
        scores.select(1, 0).fill_(0.0);
        torch::Tensor s = e.s, prev = torch::full({B * k}, kBos, torch::kLong);
        const torch::Tensor offsets = (torch::arange(B) * k).unsqueeze(1);
        std::vector<std::pair<torch::Tensor, torch::Tensor>> history;
        for (int64_t i = 0; i < steps; ++i) {
            auto [next, logits] = step(e, s, tgt_embed->forward(prev));
            torch::Tensor log_p = torch::log_softmax(logits, 1).view({B, k, -1});
            const int64_t V = log_p.size(2);
            auto [best, idx] = (scores.unsqueeze(2) + log_p).view({B, -1}).topk(k, 1);
            scores = best;
            torch::Tensor parent = (torch::floor_divide(idx, V) + offsets).view({-1});
            prev = idx.remainder(V).view({-1});
            s = next.index_select(0, parent);
            history.emplace_back(parent, prev);
        }
    }

    bool attention;
    torch::nn::Embedding src_embed, tgt_embed;
    torch::nn::GRU encoder;
    torch::nn::Linear bridge;
    torch::nn::GRUCell decoder;
    torch::nn::Linear output;
    torch::nn::Linear query{nullptr}, key{nullptr};
    torch::Tensor v;
};
TORCH_MODULE(RNNSearch);

double current_rss_mb() {
    long pages = 0, resident = 0;
    if (FILE* f = std::fopen("/proc/self/statm", "r")) {
        if (std::fscanf(f, "%ld %ld", &pages, &resident) != 2) resident = 0;
        std::fclose(f);
    }
    return double(resident) * 4096.0 / (1024.0 * 1024.0);
}

}  // namespace

int main(int argc, char** argv) {
    std::map<std::string, long> opt = {{"--batch", 32}, {"--emb", 64},     {"--hidden", 128}, {"--attn", 128},
                                       {"--vocab", 40}, {"--src-len", 20}, {"--tgt-len", 20}, {"--steps", 50},
                                       {"--threads", 1}, {"--beam", 1}};
    bool decode = false, attention = true;
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        if (a == "--decode") decode = true;
        else if (a == "--no-attention") attention = false;
        else if (opt.count(a) && i + 1 < argc) opt[a] = std::strtol(argv[++i], nullptr, 10);
        else {
            std::fprintf(stderr, "libtorch_reference: unknown option %s (flags as bench/train_step)\n", a.c_str());
            return 2;
        }
    }
    const int64_t B = opt["--batch"], S = opt["--src-len"], T = opt["--tgt-len"], V = opt["--vocab"], beam = opt["--beam"];
    const int steps = int(opt["--steps"]);
    torch::set_num_threads(int(opt["--threads"]));
    openblas_set_num_threads(int(opt["--threads"]));
    torch::manual_seed(1);
    RNNSearch model(V, opt["--emb"], opt["--hidden"], opt["--attn"], attention);
    torch::optim::Adam adam(model->parameters(), torch::optim::AdamOptions(1e-3));
    torch::Tensor src = torch::randint(4, V, {B, S}, torch::kLong);
    src.select(1, S - 1).fill_(kEos);
    torch::Tensor tgt = torch::randint(4, V, {B, T - 1}, torch::kLong);
    torch::Tensor dec_in = torch::cat({torch::full({B, 1}, kBos, torch::kLong), tgt}, 1);
    torch::Tensor dec_out = torch::cat({tgt, torch::full({B, 1}, kEos, torch::kLong)}, 1);

    auto one_step = [&] {
        if (decode) {
            if (beam > 1) model->beam(src, T, beam);
            else model->greedy(src, T);
            return;
        }
        adam.zero_grad();
        model->loss(src, dec_in, dec_out).backward();
        torch::nn::utils::clip_grad_norm_(model->parameters(), 1.0);
        adam.step();
    };
    using Clock = std::chrono::steady_clock;
    for (int i = 0; i < 5; ++i) one_step();
    const double rss_start = current_rss_mb();
    std::vector<double> times;
    rusage cpu_start{};
    getrusage(RUSAGE_SELF, &cpu_start);
    const auto run_start = Clock::now();
    for (int i = 0; i < steps; ++i) {
        const auto t0 = Clock::now();
        one_step();
        times.push_back(std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
    }
    const double run_s = std::chrono::duration<double>(Clock::now() - run_start).count();
    rusage cpu_end{};
    getrusage(RUSAGE_SELF, &cpu_end);
    auto seconds = [](const timeval& t) { return double(t.tv_sec) + double(t.tv_usec) / 1e6; };
    const double cpu_s = seconds(cpu_end.ru_utime) - seconds(cpu_start.ru_utime) + seconds(cpu_end.ru_stime) - seconds(cpu_start.ru_stime);
    std::vector<double> sorted = times;
    std::sort(sorted.begin(), sorted.end());
    const double med = sorted.size() % 2 ? sorted[sorted.size() / 2] : (sorted[sorted.size() / 2 - 1] + sorted[sorted.size() / 2]) / 2;
    rusage usage{};
    getrusage(RUSAGE_SELF, &usage);
    std::printf("{\"framework\": \"libtorch %s\", \"mode\": \"%s\", \"batch\": %ld, \"emb\": %ld, \"hidden\": %ld, \"attn\": %ld, "
                "\"vocab\": %ld, \"src_len\": %ld, \"tgt_len\": %ld, \"threads\": %ld, \"attention\": %s, \"steps\": %d, "
                "\"median_ms\": %.3f, \"min_ms\": %.3f, \"tgt_tokens_per_s\": %.0f, \"peak_rss_mb\": %.1f, "
                "\"rss_start_mb\": %.1f, \"rss_end_mb\": %.1f, \"beam\": %ld, \"malloc_tuned\": %s, \"cpu_over_wall\": %.2f, \"openblas_kernel\": \"%s\"}\n",
                TORCH_VERSION, decode ? "decode" : "train", long(B), opt["--emb"], opt["--hidden"], opt["--attn"], long(V),
                long(S), long(T), opt["--threads"], attention ? "true" : "false", steps, med, sorted.front(),
                double(B * T) / (med / 1000.0), double(usage.ru_maxrss) / 1024.0, rss_start, current_rss_mb(),
                decode ? long(beam) : 0L, std::getenv("GLIBC_TUNABLES") ? "true" : "false", cpu_s / run_s,
                openblas_get_corename());
    return 0;
}
