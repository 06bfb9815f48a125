// translator train: the command line of training. It parses the options into TrainOptions, shows
// what train() reports (a live bar on a terminal, a line every few seconds otherwise, a line per
// validation), and turns Ctrl-C and SIGTERM into a stop that saves. The training is training.cpp.
#include <fmt/core.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <csignal>
#include <cstdint>
#include <cstdlib>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <string>

#include "args.hpp"
#include "model.hpp"
#include "autograd/tape.hpp"
#include "commands.hpp"
#include "train_watch.hpp"
#include "io/checkpoint.hpp"
#include "training.hpp"
#include "train_settings.hpp"

namespace translator {

namespace {

// Ctrl-C (SIGINT) and a polite kill (SIGTERM, as from a job scheduler) both stop training after
// the current step (or validation batch) and save; the number says which came, for the exit status
// (128 + signal). During set-up (reading the data, learning subwords) there is nothing to save, and a
// second signal means "now": both exit at once. Saves are atomic, so the last checkpoint stays whole.
// Atomics, not volatile flags: the handler may run on any thread (OpenBLAS's, the --serve server's),
// two at once when two signals come together, and what one writes before `interrupted` the other
// must see once it sees `interrupted`. (Lock-free atomics may be used in a signal handler.)
std::atomic<int> interrupted = 0;
volatile std::sig_atomic_t in_setup = 1;
char held_lock[4096] = {};  // the lock file train() holds, removed on the way out as its destructor would
std::atomic<pid_t> first_sender = 0;  // who sent the first signal, and when: written before `interrupted`
std::atomic<std::int64_t> first_at_ns = 0;
static_assert(std::atomic<int>::is_always_lock_free && std::atomic<pid_t>::is_always_lock_free &&
              std::atomic<std::int64_t>::is_always_lock_free);

std::int64_t monotonic_ns() {  // (clock_gettime may be called in a signal handler)
    timespec t{};
    ::clock_gettime(CLOCK_MONOTONIC, &t);
    return static_cast<std::int64_t>(t.tv_sec) * 1'000'000'000 + t.tv_nsec;
}

// The first signal again, from the process that sent it, within a second: the same request, not a
// second one. GNU timeout (and any tool that signals a process and then its process group) delivers
// its SIGTERM twice, microseconds apart; taken as "now", it made a timed-out training skip its save.
// Ctrl-C comes from the terminal (the kernel: si_code > 0), so a second press always counts.
bool repeats_first(int sig, const siginfo_t* info) {
    return sig == interrupted && info != nullptr && info->si_code <= 0 && info->si_pid == first_sender &&
           monotonic_ns() - first_at_ns < 1'000'000'000;
}

extern "C" void on_stop_signal(int sig, siginfo_t* info, void*) {
    if (!in_setup && repeats_first(sig, info)) return;
    if (interrupted || in_setup) {
        if (held_lock[0]) ::unlink(held_lock);
        static const char setup[] = "\nstopped during set-up: nothing was trained, nothing saved\n";
        static const char again[] = "\nstopped at once by a second signal: the last saved checkpoint is intact\n";
        const char* text = in_setup ? setup : again;
        const std::size_t n = in_setup ? sizeof setup - 1 : sizeof again - 1;
        if (::write(STDERR_FILENO, text, n) < 0) {}
        ::_exit(128 + sig);
    }
    first_sender = info != nullptr ? info->si_pid : 0;
    first_at_ns = monotonic_ns();
    interrupted = sig;
}

}  // namespace

TrainFaults& train_faults() {
    static TrainFaults faults;
    return faults;
}

int cmd_train(const Argv& argv) {
    const Args args("train", "--train F.tsv --valid F.tsv --out DIR [options], or --config FILE [options]", train_settings(), argv);
    const TrainOptions o = train_options(args);
    apply_threads(args);

    const bool tty = ::isatty(STDOUT_FILENO);
    TrainHooks hooks;
    hooks.message = [](const std::string& text) { fmt::print("{}\n", text); };
    // --serve: the page in training mode, on this machine only, fed by the hooks below.
    std::optional<TrainingView> view;
    std::optional<TrainingServer> watch_server;
    if (args.given("--serve")) {
        view.emplace();
        const auto port = static_cast<int>(args.integer("--serve", 0, 65535));
        try {
            watch_server.emplace(*view, "127.0.0.1", port);
        } catch (const http::ListenError& e) {
            throw UsageError(fmt::format("--serve {}: {}", port, e.what()));
        }
        fmt::print("watch training at {} (this machine only)\n", watch_server->url());
        hooks.message = [&view](const std::string& text) {
            view->on_message(text);
            fmt::print("{}\n", text);
        };
        hooks.watch = [&view](const EpochReport& r, const TrainWatch& w) { view->on_validation(r, w); };
    }
    double last_report = -1, window_start = 0, window_tokens = 0;
    hooks.progress = [&](const TrainProgress& p) {
        if (train_faults().after_step) train_faults().after_step(p.step);
        if (view) view->on_progress(p);
        window_tokens += static_cast<double>(p.tokens);
        if (last_report >= 0 && p.seconds - last_report < (tty ? 0.25 : 5.0)) return;  // a bar at 4 Hz, else a line every 5 s
        if (last_report < 0) last_report = 0;
        const double tok_s = window_tokens / std::max(p.seconds - window_start, 1e-9);
        const int filled = static_cast<int>(p.epoch_fraction * 24);
        const std::string line = fmt::format("epoch {:>3} [{}{}] {:3.0f}%  loss {:.4f}  {:>6.0f} tok/s  {} left", p.epoch + 1,
                                             std::string(static_cast<std::size_t>(filled), '#'),
                                             std::string(static_cast<std::size_t>(24 - filled), '.'), 100 * p.epoch_fraction,
                                             p.loss, tok_s, clock_text(p.seconds_left));
        if (tty) fmt::print("\r{}\x1b[K", line);
        else fmt::print("{}\n", line);
        std::fflush(stdout);
        last_report = window_start = p.seconds;
        window_tokens = 0;
    };
    const auto examples = static_cast<std::size_t>(args.integer("--show-examples", 0, 3));
    hooks.epoch_end = [&](const EpochReport& e) {
        if (tty) fmt::print("\r\x1b[K");
        fmt::print("{}\n", epoch_line(e));
        for (std::size_t i = 0; i < std::min(examples, e.examples.size()); ++i)
            fmt::print("    source       {}\n    reference    {}\n    translation  {}\n", tg::printable(e.examples[i].source, 200),
                       tg::printable(e.examples[i].reference, 200), tg::printable(e.examples[i].translation, 200));
        std::fflush(stdout);
    };
    hooks.stop_requested = [] { return interrupted != 0; };
    hooks.training_started = [] { in_setup = 0; };
    const std::string lock_path = tg::CheckpointLock::path_for(o.out).string();
    held_lock[0] = '\0';
    hooks.setup_phase = [&lock_path](const char* what) {
        if (std::string(what) == "holding the lock" && lock_path.size() < sizeof held_lock)
            std::memcpy(held_lock, lock_path.c_str(), lock_path.size() + 1);
        if (train_faults().setup_phase) train_faults().setup_phase(what);
    };

    interrupted = 0;
    in_setup = 1;
    struct sigaction on_stop {};
    on_stop.sa_sigaction = on_stop_signal;
    on_stop.sa_flags = SA_SIGINFO | SA_RESTART;  // (SA_RESTART: as std::signal installs a handler)
    sigemptyset(&on_stop.sa_mask);
    sigaddset(&on_stop.sa_mask, SIGINT);  // on the thread that runs it, the handler is not interrupted by
    sigaddset(&on_stop.sa_mask, SIGTERM);  // the other signal (across threads the atomics above order it)
    sigaction(SIGINT, &on_stop, nullptr);
    sigaction(SIGTERM, &on_stop, nullptr);
    TrainResult r;
    try {
        r = train(o, hooks);
    } catch (...) {
        if (tty) fmt::print("\r\x1b[K");  // the bar's line, before the error
        std::fflush(stdout);
        if (view) view->finish();
        throw;
    }
    if (view) view->finish();  // the page's stream ends; the server stops when this returns
    fmt::print("{} after {} steps in {}; {}; checkpoint in {}/\n", interrupted ? "interrupted" : r.stop_reason, r.steps,
               clock_text(r.seconds),
               std::isfinite(r.best_valid_loss) ? fmt::format("best valid loss {:.4f}", r.best_valid_loss) : "no validation finished",
               o.out.string());
    fmt::print("tape memory: {:.1f} MB at the largest step\n", r.tape_peak_mb);
    // OUT holds the best model with the log up to it; a later state that was not better is OUT/last,
    // and with it the whole run's log and curves.
    if (std::error_code ec; std::filesystem::exists(o.out / "last" / "log.jsonl", ec))
        fmt::print("the whole run's log and curves: {}/last/log.jsonl and curves.svg ({}/'s end at the best validation)\n",
                   o.out.string(), o.out.string());
    if (view) {
        watch_server.reset();  // the last update is sent (or the client gone) before the cost is read
        const TrainingView::Cost c = view->cost();
        fmt::print("watching cost training {:.3f} s on its thread and {:.3f} s of CPU on the server's threads: {:.2f}% "
                   "of {}; {} updates sent\n",
                   c.training_thread_seconds, c.server_cpu_seconds,
                   100.0 * (c.training_thread_seconds + c.server_cpu_seconds) / std::max(r.seconds, 1e-9),
                   clock_text(r.seconds), c.events_sent);
    }
    if (interrupted)
        fmt::print("stopped by {}; the checkpoint above is saved\n", interrupted == SIGTERM ? "SIGTERM" : "Ctrl-C (SIGINT)");
    return interrupted ? 128 + interrupted : 0;  // saved, and the shell's convention for a signalled command
}

}  // namespace translator
