// The translator's subcommands (docs/spec/cli.md). Each takes its own arguments,
// returns the exit status, and throws UsageError (status 2) or tg::FileError (status 1).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace translator {

using Argv = std::vector<std::string>;
int cmd_generate(const Argv& args);
int cmd_train(const Argv& args);
int cmd_eval(const Argv& args);
int cmd_test(const Argv& args);
int cmd_translate(const Argv& args);
int cmd_attention(const Argv& args);
int cmd_grads(const Argv& args);
int cmd_average(const Argv& args);
int cmd_serve(const Argv& args);

// The training command's fault injection, for tests only (as tg::FaultHooks, io/files.hpp): null in
// the shipped program; tests/fault_injection.cpp sets them in the translator's test build.
struct TrainFaults {
    void (*after_step)(std::int64_t step) = nullptr;    // after each step: a test raises SIGINT or SIGTERM
    void (*setup_phase)(const char* phase) = nullptr;  // as a phase of set-up begins
};
TrainFaults& train_faults();

}  // namespace translator
