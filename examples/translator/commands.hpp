// The translator's subcommands (docs/spec/cli.md). Each takes its own arguments,
// returns the exit status, and throws UsageError (status 2) or tg::FileError (status 1).
#pragma once
#include <string>
#include <vector>

namespace translator {

using Argv = std::vector<std::string>;
int cmd_generate(const Argv& args);
int cmd_train(const Argv& args);
int cmd_eval(const Argv& args);
int cmd_translate(const Argv& args);
int cmd_attention(const Argv& args);
int cmd_grads(const Argv& args);

}  // namespace translator
