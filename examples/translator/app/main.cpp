// translator: the toy neural machine translator of Bahdanau, Cho & Bengio (2015) on tapegrad.
// Subcommands: generate, train, eval, test, translate, attention, grads, average, serve (see --help of each).
// Exit status: 0 success, 1 a bad input file or a failure while running, 2 a bad command line.
#include <fmt/core.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <unistd.h>
#include <cstring>
#include <exception>
#include <new>

#include "args.hpp"
#include "autograd/error.hpp"
#include "commands.hpp"
#include "io/files.hpp"

namespace {

const char kUsage[] =
    "usage: translator COMMAND [options]   (translator COMMAND --help for its options; translator --version)\n"
    "  generate   write a synthetic language pair with gold alignments (generate --list names them)\n"
    "  train      train a model, keeping the best checkpoint\n"
    "  eval       exact match, BLEU, chrF, AER and length buckets of a checkpoint on a data set\n"
    "  test       eval of the model a training configuration trained, on its [data] test set\n"
    "  translate  translate lines from stdin (optionally drawing the attention)\n"
    "  attention  draw one sentence's alignment matrix as SVG (and CSV)\n"
    "  grads      write every parameter's gradient on a data set, for checking against another framework\n"
    "  average    average the parameters of several checkpoints of one model\n"
    "  serve      the attention explorer in the browser, and a JSON translation API\n";

}  // namespace

// What went to stdout reached it: a full disk or a closed pipe is a failure (status 1), not a success
// with output missing. (Each subcommand's lines are flushed as they go; this catches the rest.)
// Errors are said with stdio's fputs, which reports a failure instead of throwing: a message that
// cannot be written (stderr on a full disk too) must not turn an error into an abort.
static void say_error(const std::string& text) { std::fputs((text + "\n").c_str(), stderr); }

static int finished(const std::string& command, int status) {
    if (std::fflush(stdout) != 0 || std::ferror(stdout)) {
        if (status != 0) return status;  // the failure was said already (one failure, one line)
        say_error(fmt::format("translator {}: stdout: write error: {}", command, std::strerror(errno)));
        return 1;
    }
    return status;
}

static int run_command(const std::string& command, const translator::Argv& args);

// OpenBLAS (0.3.21) starts a thread per core as it loads, before main, and each maps a 128 MB work
// buffer: gigabytes of address space on a many-core machine (12 GB on 96 cores) for a program that
// multiplies on --threads of them (1 by default), and a thread whose map an address-space limit
// refuses retries for ever. OpenBLAS reads its thread count from the environment as it loads, so
// when none is set the translator starts itself again with OPENBLAS_NUM_THREADS=1 (--threads N
// raises it later). Should that fail, it goes on as it is.
static void start_with_one_blas_thread(char** argv) {
    for (const char* name : {"OPENBLAS_NUM_THREADS", "GOTO_NUM_THREADS", "OMP_NUM_THREADS"})
        if (std::getenv(name)) return;
    ::setenv("OPENBLAS_NUM_THREADS", "1", 1);
    ::execv("/proc/self/exe", argv);
}

int main(int argc, char** argv) {
    start_with_one_blas_thread(argv);
    if (argc < 2) {
        std::fputs(kUsage, stderr);
        return 2;
    }
    const std::string command = argv[1];
    return finished(command, run_command(command, translator::Argv(argv + 2, argv + argc)));
}

static int run_command(const std::string& command, const translator::Argv& args) {
    using namespace translator;
    try {
        if (command == "--help" || command == "-h" || command == "help") {
            std::fputs(kUsage, stdout);
            return 0;
        }
        if (command == "--version") {
            fmt::print("translator (tapegrad) {}\n", TAPEGRAD_VERSION);
            return 0;
        }
        if (command == "generate") return cmd_generate(args);
        if (command == "train") return cmd_train(args);
        if (command == "eval") return cmd_eval(args);
        if (command == "test") return cmd_test(args);
        if (command == "translate") return cmd_translate(args);
        if (command == "attention") return cmd_attention(args);
        if (command == "grads") return cmd_grads(args);
        if (command == "average") return cmd_average(args);
        if (command == "serve") return cmd_serve(args);
        fmt::print(stderr, "translator: '{}': unknown command\n{}", command, kUsage);
        return 2;
    } catch (const HelpRequested& h) {
        std::fputs(h.usage.c_str(), stdout);
        return 0;
    } catch (const UsageError& e) {
        say_error(fmt::format("translator {}: {} (see translator {} --help)", command, e.what(), command));
        return 2;
    } catch (const tg::FileError& e) {
        say_error(fmt::format("translator {}: {}", command, e.what()));
        return 1;
    } catch (const tg::NumericError& e) {
        say_error(fmt::format("translator {}: {}", command, e.what()));
        return 1;
    } catch (const tg::OutOfMemory& e) {
        say_error(fmt::format("translator {}: {}", command, e.what()));
        return 1;
    } catch (const std::bad_alloc&) {
        // What the command can be asked for with less: training's sizes, or decoding's sentence and beam.
        const bool decoding = command == "translate" || command == "eval" || command == "attention" || command == "serve";
        say_error(fmt::format("translator {}: out of memory ({})", command,
                              decoding ? "a shorter sentence, a smaller --beam, --max-words or --max-pieces need less"
                                       : "smaller sizes, --batch or --max-len need less"));
        return 1;
    } catch (const std::exception& e) {
        say_error(fmt::format("translator {}: error: {}", command, e.what()));
        return 1;
    }
}
