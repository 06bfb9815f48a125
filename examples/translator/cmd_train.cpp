// translator train: teacher forcing, Adam, global-norm clipping, a validation pass after each
// epoch, the best checkpoint kept, a time limit, and exact resumption (--resume).
#include <fmt/core.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <cmath>
#include <limits>
#include <map>
#include <sstream>

#include "args.hpp"
#include "autograd/ops.hpp"
#include "autograd/tape.hpp"
#include "autograd/threads.hpp"
#include "checkpoint.hpp"
#include "commands.hpp"
#include "optim/adam.hpp"
#include "outputs.hpp"

namespace translator {

namespace fs = std::filesystem;
using namespace tg;
using Clock = std::chrono::steady_clock;

namespace {

// Ctrl-C (SIGINT) and a polite kill (SIGTERM, as from a job scheduler) both stop training after
// the current step and save; the number says which came, for the exit status (128 + signal).
volatile std::sig_atomic_t interrupted = 0;
extern "C" void on_stop_signal(int sig) { interrupted = sig; }

// Where training stands, and the settings that must not change when it resumes.
struct TrainState {
    std::int64_t epoch = 0;  // epochs completed
    std::int64_t batch = 0;  // batches of the current epoch already done
    std::int64_t step = 0;   // optimizer steps
    double best_valid_loss = std::numeric_limits<double>::infinity();
    std::uint64_t seed = 1;
    std::int64_t batch_size = 32, max_len = 100, min_count = 1;
    double lr = 1e-3, clip = 1.0;

    std::string str() const {
        return fmt::format("epoch {}\nbatch {}\nstep {}\nbest_valid_loss {:.17g}\nseed {}\nbatch_size {}\nmax_len {}\n"
                           "min_count {}\nlr {:.17g}\nclip {:.17g}\n",
                           epoch, batch, step, best_valid_loss, seed, batch_size, max_len, min_count, lr, clip);
    }
    static TrainState load(const fs::path& path) {
        std::map<std::string, std::string> kv;
        std::istringstream in(read_text(path));
        std::string line;
        for (int n = 1; std::getline(in, line); ++n) {
            const auto space = line.find(' ');
            if (space == std::string::npos) throw FileError(fmt::format("{}:{}: expected 'key value'", path.string(), n));
            kv[line.substr(0, space)] = line.substr(space + 1);
        }
        auto get = [&](const char* key) {
            auto it = kv.find(key);
            if (it == kv.end()) throw FileError(fmt::format("{}: missing '{}'", path.string(), key));
            return it->second;
        };
        try {
            TrainState s;
            s.epoch = std::stoll(get("epoch"));
            s.batch = std::stoll(get("batch"));
            s.step = std::stoll(get("step"));
            s.best_valid_loss = std::stod(get("best_valid_loss"));
            s.seed = std::stoull(get("seed"));
            s.batch_size = std::stoll(get("batch_size"));
            s.max_len = std::stoll(get("max_len"));
            s.min_count = std::stoll(get("min_count"));
            s.lr = std::stod(get("lr"));
            s.clip = std::stod(get("clip"));
            return s;
        } catch (const std::logic_error&) {
            throw FileError(fmt::format("{}: a value is not a number", path.string()));
        }
    }
};

// Options that fix the model or the data are the checkpoint's when resuming: giving a different value
// is an error (exit 2), not silently ignored.
void check_resume_options(const Args& args, const TrainState& state, const ModelConfig& c) {
    auto same = [&](const char* option, long long saved, long long min, long long max) {
        if (!args.given(option)) return;
        const long long value = args.integer(option, min, max);
        if (value != saved)
            throw UsageError(fmt::format("{} {}: the training being resumed has {} {}; a resumed training keeps its sizes, "
                                         "data and seed (start a new one with a new --out to change it)",
                                         option, value, option, saved));
    };
    same("--emb", static_cast<long long>(c.emb), 1, 100000);
    same("--hidden", static_cast<long long>(c.hidden), 1, 100000);
    if (c.attention) same("--attn", static_cast<long long>(c.attn), 1, 100000);
    same("--deep-output", static_cast<long long>(c.deep_output), 0, 100000);
    same("--batch", state.batch_size, 1, 100000);
    same("--max-len", state.max_len, 1, 100000);
    same("--min-count", state.min_count, 1, 1'000'000);
    same("--seed", static_cast<long long>(state.seed), 0, 1LL << 62);
    if (args.flag("--no-attention") && c.attention)
        throw UsageError("--no-attention: the training being resumed has attention; a resumed training keeps its model");
    if (args.given("--attn") && !c.attention)
        throw UsageError("--attn: the training being resumed has no attention (RNNencdec)");
}

// The parameters, their gradients and Adam's two moments: 16 bytes a parameter. A model that cannot
// fit in this machine's memory is refused before anything is allocated (naming the sizes asked for),
// instead of failing later with std::bad_alloc or being killed by the kernel.
void check_model_fits(const ModelConfig& c, const Args& args) {
    const double E = static_cast<double>(c.emb), H = static_cast<double>(c.hidden), A = static_cast<double>(c.attn);
    const double Vs = static_cast<double>(c.src_vocab), Vt = static_cast<double>(c.tgt_vocab);
    auto gru = [](double in, double h) { return 3 * h * in + 3 * h * h + 6 * h; };
    const double features = c.deep_output ? static_cast<double>(c.deep_output) : 3 * H + E;
    double n = (Vs + Vt) * E + 2 * gru(E, H) + H * H + H + gru(E + 2 * H, H) + features * Vt + Vt;
    if (c.attention) n += A * H + A * 2 * H + 2 * A;
    if (c.deep_output) n += (3 * H + E) * 2 * static_cast<double>(c.deep_output) + 2 * static_cast<double>(c.deep_output);
    const double need = 16 * n;
    const double have = static_cast<double>(::sysconf(_SC_PHYS_PAGES)) * static_cast<double>(::sysconf(_SC_PAGESIZE));
    if (have > 0 && need > 0.8 * have) {
        std::string sizes;
        for (const char* o : {"--emb", "--hidden", "--attn", "--deep-output"})
            if (args.given(o)) sizes += fmt::format("{}{} {}", sizes.empty() ? "" : " ", o, args.text(o));
        throw UsageError(fmt::format("{}: a model of {:.3g} parameters needs {:.1f} GB for its weights, gradients and "
                                     "Adam's state; this machine has {:.1f} GB", sizes.empty() ? "the model" : sizes, n,
                                     need / 1e9, have / 1e9));
    }
}

struct Validation {
    double loss = 0, accuracy = 0;
};

// Teacher-forced loss and next-word accuracy over a data set, without recording. Each batch runs in
// an InferenceMode on the active tape (the training tape, cleared before): no memory of its own.
Validation validate(const RNNSearch& model, const std::vector<text::EncodedPair>& data) {
    double loss_sum = 0, right = 0, tokens = 0;
    for (const auto& which : text::plan_batches(data, 64, nullptr)) {
        InferenceMode inference;
        const text::Batch batch = text::make_batch(data, which);
        Var logits;
        const float loss = model.loss(batch, &logits).item();
        loss_sum += static_cast<double>(loss) * static_cast<double>(batch.target_tokens);
        tokens += static_cast<double>(batch.target_tokens);
        const Tensor& l = logits.value();
        const std::size_t V = l.shape()[1];  // logits [B*T, V]
        for (std::size_t k = 0; k < batch.size * batch.tgt_len; ++k) {
            if (batch.decoder_target[k] == text::Vocab::kPad) continue;
            const float* row = l.data() + k * V;
            right += std::max_element(row, row + V) - row == batch.decoder_target[k] ? 1.0 : 0.0;
        }
    }
    return {loss_sum / std::max(tokens, 1.0), right / std::max(tokens, 1.0)};
}

// Why training stopped on a loss or gradient norm that is not finite: the batch is replayed in
// anomaly mode to name the first op whose forward or backward made a NaN or Inf. Nothing is saved,
// so the last good checkpoint stays as it is.
std::string not_finite_report(float loss, float norm, std::int64_t step, const RNNSearch& model, const text::Batch& batch,
                              const fs::path& out) {
    std::string culprit = "no single op produced it (the parameters are no longer finite)";
    Tape tape;
    TapeScope scope(tape);
    AnomalyModeGuard anomaly;
    try {
        model.loss(batch).backward();
    } catch (const AnomalyError& e) {
        culprit = e.what();
    }
    return fmt::format("training stopped at step {}: the {} is not finite ({}); {}; the last good checkpoint in {}/ is "
                       "unchanged", step, std::isfinite(loss) ? "gradient norm" : "loss", std::isfinite(loss) ? norm : loss,
                       culprit, out.string());
}

std::string clock_text(double seconds) {
    const auto s = static_cast<long long>(std::max(0.0, seconds));
    return s >= 3600 ? fmt::format("{}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60) : fmt::format("{}:{:02}", s / 60, s % 60);
}

}  // namespace

int cmd_train(const Argv& argv) {
    Args args("train", "--train F.tsv --valid F.tsv --out DIR [options]",
              {{"--train", "F.tsv", "training pairs", "", true},
               {"--valid", "F.tsv", "validation pairs, scored after each epoch", "", true},
               {"--out", "DIR", "checkpoint directory: the best model is kept here", "", true},
               {"--epochs", "N", "stop after N epochs", "10"},
               {"--time-limit", "SECONDS", "stop after this long (0: no limit)", "0"},
               {"--batch", "N", "sentence pairs per batch", "32"},
               {"--emb", "N", "word embedding size E", "64"},
               {"--hidden", "N", "GRU size H per direction", "128"},
               {"--attn", "N", "attention size A", "128"},
               {"--lr", "X", "Adam learning rate", "1e-3"},
               {"--clip", "X", "clip gradients to this global L2 norm (0: no clipping)", "1.0"},
               {"--seed", "N", "random seed (initialisation and batch order)", "1"},
               {"--no-attention", "", "train the RNNencdec baseline: a fixed context, no attention", ""},
               {"--deep-output", "N", "a maxout layer of N units before the softmax, as in the paper's Appendix A (0: none)", "0"},
               {"--max-len", "N", "drop training pairs with a side longer than N words", "100"},
               {"--min-count", "N", "words seen fewer times become <unk>", "1"},
               {"--subwords", "N", "cut words into about N subword pieces per language, learnt from --train (SentencePiece; 0: whole words)", "0"},
               {"--resume", "DIR", "continue the training saved in DIR exactly where it stopped", ""},
               kThreadsOption},
              argv);
    const auto epochs = args.integer("--epochs", 1, 1'000'000);
    const double time_limit = args.number("--time-limit", 0, 1e9);
    apply_threads(args);
    const fs::path out = args.text("--out");
    // Every output location is checked before anything long starts, and held: a second `train` with
    // the same --out fails now instead of overwriting this one's checkpoints.
    std::vector<fs::path> inputs = {args.text("--train"), args.text("--valid")};
    if (args.given("--resume") && fs::absolute(args.text("--resume")).lexically_normal() != fs::absolute(out).lexically_normal())
        inputs.push_back(args.text("--resume"));  // resuming in place (--out = --resume) is allowed
    check_checkpoint_output(out, "--out", inputs);
    CheckpointLock lock(out);

    TrainState state;
    std::unique_ptr<RNNSearch> model;
    text::Vocab src_vocab, tgt_vocab;
    std::shared_ptr<const Subwords> src_subwords, tgt_subwords;
    fs::path resume_from;
    if (args.given("--resume")) {
        const fs::path dir = args.text("--resume");
        resume_from = fs::exists(dir / "last" / "train_state.txt") ? dir / "last" : dir;
        if (!fs::exists(resume_from / "train_state.txt"))
            throw FileError(fmt::format("{}: no train_state.txt: not a training checkpoint to resume", (resume_from / "train_state.txt").string()));
        state = TrainState::load(resume_from / "train_state.txt");
        LoadedModel loaded = load_model(resume_from);
        model = std::move(loaded.model);
        src_vocab = std::move(loaded.src_vocab);
        tgt_vocab = std::move(loaded.tgt_vocab);
        src_subwords = loaded.src_subwords;
        tgt_subwords = loaded.tgt_subwords;
        check_resume_options(args, state, model->config);
        if (args.given("--subwords"))
            throw UsageError("--subwords: a resumed training keeps the subword model it was started with");
    } else {
        state.seed = static_cast<std::uint64_t>(args.integer("--seed", 0, 1LL << 62));
        state.batch_size = args.integer("--batch", 1, 100000);
        state.max_len = args.integer("--max-len", 1, 100000);
        state.min_count = args.integer("--min-count", 1, 1'000'000);
        state.lr = args.number("--lr", 0, 10);
        state.clip = args.number("--clip", 0, 1e9);
    }

    // Data: the vocabularies come from the training file (or from the checkpoint when resuming).
    auto read = [](const std::string& file) {
        std::size_t extra = 0;
        auto pairs = text::read_parallel(file, &extra);
        if (extra) fmt::print("{}: {} lines have more than two columns; the first two are used\n", file, extra);
        return pairs;
    };
    std::vector<text::SentencePair> read_train = read(args.text("--train")), valid_pairs = read(args.text("--valid"));
    const auto subwords = static_cast<std::size_t>(args.integer("--subwords", 0, 1'000'000));
    if (subwords > 0 && !model) {  // learnt from the training file, one model per language
        std::vector<std::string> sources, targets;
        for (const auto& p : read_train) sources.push_back(text::join_words(p.source)), targets.push_back(text::join_words(p.target));
        src_subwords = std::make_shared<const Subwords>(Subwords::train(sources, subwords));
        tgt_subwords = std::make_shared<const Subwords>(Subwords::train(targets, subwords));
    }
    // From here on a "word" is a piece, for a subword model.
    read_train = to_units(std::move(read_train), src_subwords.get(), tgt_subwords.get());
    valid_pairs = to_units(std::move(valid_pairs), src_subwords.get(), tgt_subwords.get());
    std::vector<text::SentencePair> train_pairs;
    for (text::SentencePair& p : read_train)
        if (p.source.size() <= static_cast<std::size_t>(state.max_len) && p.target.size() <= static_cast<std::size_t>(state.max_len))
            train_pairs.push_back(std::move(p));
    if (train_pairs.empty())
        throw UsageError(fmt::format("--max-len: no training pair of {} is {} {} or shorter", args.text("--train"), state.max_len,
                                     src_subwords ? "pieces" : "words"));
    if (!model) {
        std::vector<text::Sentence> sources, targets;
        for (const auto& p : train_pairs) {
            sources.push_back(p.source);
            targets.push_back(p.target);
        }
        src_vocab = text::Vocab::build(sources, static_cast<std::size_t>(state.min_count));
        tgt_vocab = text::Vocab::build(targets, static_cast<std::size_t>(state.min_count));
        ModelConfig c;
        c.src_vocab = src_vocab.size();
        c.tgt_vocab = tgt_vocab.size();
        c.emb = static_cast<std::size_t>(args.integer("--emb", 1, 100000));
        c.hidden = static_cast<std::size_t>(args.integer("--hidden", 1, 100000));
        c.attn = static_cast<std::size_t>(args.integer("--attn", 1, 100000));
        c.attention = !args.flag("--no-attention");
        c.deep_output = static_cast<std::size_t>(args.integer("--deep-output", 0, 100000));
        check_model_fits(c, args);
        Generator init(state.seed);
        model = std::make_unique<RNNSearch>(c, init);
    }
    const auto train = text::encode_pairs(train_pairs, src_vocab, tgt_vocab);
    const auto valid = text::encode_pairs(valid_pairs, src_vocab, tgt_vocab);
    Adam opt(model->named_parameters(), {.lr = state.lr});
    if (!resume_from.empty()) {
        load_optimizer(resume_from, opt);
        fmt::print("resuming {}: after epoch {}, batch {} (step {})\n", resume_from.string(), state.epoch, state.batch, state.step);
        // Schedule options given with --resume are applied from here on, and said.
        for (const auto& [option, saved] : {std::pair{"--lr", &state.lr}, std::pair{"--clip", &state.clip}}) {
            if (!args.given(option)) continue;
            const double value = args.number(option, 0, option == std::string("--lr") ? 10 : 1e9);
            if (value != *saved) fmt::print("resuming with {} {} (it was {})\n", option, value, *saved);
            *saved = value;
        }
        opt.set_lr(state.lr);
    }
    fmt::print("model: {}, {} parameters; {} training pairs, {} validation pairs; vocabularies {} / {}\n",
               model->attention ? "RNNsearch" : "RNNencdec (no attention)", model->parameter_count(), train.size(),
               valid.size(), src_vocab.size(), tgt_vocab.size());

    // Saving: the best model goes to DIR itself (with the state, since it is also the latest);
    // a later state that is not better goes to DIR/last, so the best is never overwritten by it.
    auto save = [&](bool best) {
        const bool top = best || !fs::exists(out / "src.vocab");
        CheckpointWriter w(top ? out : out / "last");
        add_model(w, *model, src_vocab, tgt_vocab, src_subwords.get(), tgt_subwords.get());
        save_optimizer(w, opt);
        w.add_text("train_state.txt", state.str());
        w.commit();
    };
    auto validate_and_save = [&](double epochs_done, double seconds) {
        const Validation v = validate(*model, valid);
        const bool best = v.loss < state.best_valid_loss;
        const double previous_best = state.best_valid_loss;
        if (best) state.best_valid_loss = v.loss;
        const std::string line = fmt::format("epoch {:>6.2f}  step {:>6}  valid loss {:.4f}  valid accuracy {:.2f}%", epochs_done,
                                             state.step, v.loss, 100 * v.accuracy);
        try {
            save(best);
        } catch (const std::exception& e) {  // said as it is: nothing was saved
            state.best_valid_loss = previous_best;
            fmt::print("{}  {}NOT saved  ({} elapsed)\n", line, best ? "best, " : "", clock_text(seconds));
            std::fflush(stdout);
            throw FileError(fmt::format("the checkpoint could not be saved in {}: {}", out.string(), e.what()));
        }
        fmt::print("{}{}  ({} elapsed)\n", line, best ? "  best, saved" : "", clock_text(seconds));
        std::fflush(stdout);
    };

    interrupted = 0;
    std::signal(SIGINT, on_stop_signal);
    std::signal(SIGTERM, on_stop_signal);
    // Testing hooks: TAPEGRAD_SIGINT_AT_STEP=N (or TAPEGRAD_SIGTERM_AT_STEP=N) sends this process
    // Ctrl-C's signal (or a kill's) after step N.
    const char* sigint_env = std::getenv("TAPEGRAD_SIGINT_AT_STEP");
    const char* sigterm_env = std::getenv("TAPEGRAD_SIGTERM_AT_STEP");
    const std::int64_t sigint_at = sigint_env ? std::atoll(sigint_env) : 0;
    const std::int64_t sigterm_at = sigterm_env ? std::atoll(sigterm_env) : 0;
    const bool tty = ::isatty(STDOUT_FILENO);
    const auto start = Clock::now();
    auto elapsed = [&] { return std::chrono::duration<double>(Clock::now() - start).count(); };
    double last_report = 0, window_tokens = 0, window_start = 0, loss_avg = 0;
    std::size_t steps_this_run = 0;
    Tape& tape = active_tape();
    const char* stop_reason = nullptr;
    while (state.epoch < epochs && !stop_reason) {
        Generator order(state.seed * 1000003ull + static_cast<std::uint64_t>(state.epoch));  // the epoch's batch order
        const auto plan = text::plan_batches(train, static_cast<std::size_t>(state.batch_size), &order);
        for (auto b = static_cast<std::size_t>(state.batch); b < plan.size(); ++b) {
// <doc:train-step>
            const text::Batch batch = text::make_batch(train, plan[b]);
            tape.clear();
            opt.zero_grad();
            Var loss = model->loss(batch);
            loss.backward();
            const float norm = clip_grad_norm(opt.params(), state.clip > 0 ? static_cast<float>(state.clip) : 1e30f);
            if (!std::isfinite(loss.item()) || !std::isfinite(norm)) {  // stop before the step spoils the parameters
                if (tty) fmt::print("\r\x1b[K");
                throw FileError(not_finite_report(loss.item(), norm, state.step + 1, *model, batch, out));
            }
            opt.step();
// </doc:train-step>
            ++state.step;
            state.batch = static_cast<std::int64_t>(b) + 1;
            if (state.step == sigint_at) std::raise(SIGINT);
            if (state.step == sigterm_at) std::raise(SIGTERM);
            ++steps_this_run;
            loss_avg = steps_this_run == 1 ? loss.item() : 0.95 * loss_avg + 0.05 * loss.item();
            window_tokens += static_cast<double>(batch.target_tokens);

            const double now = elapsed();
            if (now - last_report >= (tty ? 0.25 : 5.0)) {  // a live bar on a terminal, else a line every 5 s
                const double tok_s = window_tokens / std::max(now - window_start, 1e-9);
                const double per_batch = now / static_cast<double>(steps_this_run);
                double left = per_batch * static_cast<double>((epochs - state.epoch) * static_cast<std::int64_t>(plan.size()) - state.batch);
                if (time_limit > 0) left = std::min(left, time_limit - now);
                const double frac = static_cast<double>(state.batch) / static_cast<double>(plan.size());
                const int filled = static_cast<int>(frac * 24);
                const std::string line = fmt::format("epoch {:>3} [{}{}] {:3.0f}%  loss {:.4f}  {:>6.0f} tok/s  {} left",
                                                     state.epoch + 1, std::string(static_cast<std::size_t>(filled), '#'),
                                                     std::string(static_cast<std::size_t>(24 - filled), '.'), 100 * frac,
                                                     loss_avg, tok_s, clock_text(left));
                if (tty) fmt::print("\r{}\x1b[K", line);
                else fmt::print("{}\n", line);
                std::fflush(stdout);
                last_report = window_start = now;
                window_tokens = 0;
            }
            if (time_limit > 0 && now >= time_limit) stop_reason = "time limit reached";
            if (interrupted) stop_reason = "interrupted";
            if (stop_reason) break;
        }
        if (tty) fmt::print("\r\x1b[K");
        const double epochs_done = static_cast<double>(state.epoch) + static_cast<double>(state.batch) / static_cast<double>(plan.size());
        if (static_cast<std::size_t>(state.batch) >= plan.size()) {  // the epoch is complete
            ++state.epoch;
            state.batch = 0;
        }
        tape.clear();  // the last step's values are not needed: validation reuses their memory
        validate_and_save(epochs_done, elapsed());
    }
    fmt::print("{} after {} steps in {}; best valid loss {:.4f}; checkpoint in {}/\n", stop_reason ? stop_reason : "done",
               state.step, clock_text(elapsed()), state.best_valid_loss, out.string());
    fmt::print("tape memory: {:.1f} MB at the largest step\n", static_cast<double>(tape.arena().peak_bytes()) / (1024.0 * 1024.0));
    if (interrupted)
        fmt::print("stopped by {}; the checkpoint above is saved\n", interrupted == SIGTERM ? "SIGTERM" : "Ctrl-C (SIGINT)");
    return interrupted ? 128 + interrupted : 0;  // saved, and the shell's convention for a signalled command
}

}  // namespace translator
