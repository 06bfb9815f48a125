// Linked into the test build of the translator (translator-faults) only: installs the library's and
// the training command's fault hooks from this process's environment, so that the tests can run the
// real program and interrupt or fail it where they choose. The shipped translator has none of this.
//     TAPEGRAD_CRASH_AT=N          the N-th step of a save kills the process (SIGKILL)
//     TAPEGRAD_FAIL_SAVE_AT=N      the N-th checkpoint save fails before publishing anything
//     TAPEGRAD_NO_EXCHANGE=1       saves publish as on a file system without an atomic exchange
//     TAPEGRAD_SIGINT_AT_STEP=N    Ctrl-C's signal after training step N (TAPEGRAD_SIGTERM_AT_STEP: a kill's)
//     TAPEGRAD_SIGTERM_TWICE_AT_STEP=N  a kill's signal twice at once, as GNU timeout sends it (to the
//                                  process, then to its process group)
//     TAPEGRAD_SIGINT_IN_SETUP=P   Ctrl-C's signal as the set-up phase named P begins
//     TAPEGRAD_REPLACE_LOCK_AT_STEP=N with TAPEGRAD_LOCK=PATH: after training step N, the lock file
//                                  PATH is removed and another made in its place, as a cleanup script
//                                  and a second training would
#include <signal.h>
#include <unistd.h>

#include <csignal>
#include <cstdint>
#include <cstdlib>
#include <cstring>

#include "commands.hpp"
#include "io/files.hpp"

namespace {

long number(const char* name) {
    const char* v = std::getenv(name);
    return v ? std::atol(v) : 0L;
}

const bool installed = [] {
    tg::FaultHooks& io = tg::fault_hooks();
    io.save_step = [] {
        static const long crash_at = number("TAPEGRAD_CRASH_AT");
        static long calls = 0;
        if (crash_at > 0 && ++calls == crash_at) ::kill(::getpid(), SIGKILL);
    };
    io.fail_save = [] {
        static const long fail_at = number("TAPEGRAD_FAIL_SAVE_AT");
        static long saves = 0;
        return fail_at > 0 && ++saves == fail_at;
    };
    io.no_exchange = [] { return std::getenv("TAPEGRAD_NO_EXCHANGE") != nullptr; };
    translator::TrainFaults& train = translator::train_faults();
    train.after_step = [](std::int64_t step) {
        if (step == number("TAPEGRAD_SIGINT_AT_STEP")) std::raise(SIGINT);
        if (step == number("TAPEGRAD_SIGTERM_AT_STEP")) std::raise(SIGTERM);
        if (step == number("TAPEGRAD_REPLACE_LOCK_AT_STEP") && std::getenv("TAPEGRAD_LOCK")) {
            const char* lock = std::getenv("TAPEGRAD_LOCK");
            ::unlink(lock);
            tg::write_file_atomically(lock, "tapegrad lock\npid 1\n");
        }
        if (step == number("TAPEGRAD_SIGTERM_TWICE_AT_STEP")) {
            std::raise(SIGTERM);
            std::raise(SIGTERM);
        }
    };
    train.setup_phase = [](const char* phase) {
        const char* at = std::getenv("TAPEGRAD_SIGINT_IN_SETUP");
        if (at != nullptr && std::strcmp(at, phase) == 0) std::raise(SIGINT);
    };
    return true;
}();

}  // namespace
