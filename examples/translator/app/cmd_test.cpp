// translator test --config FILE: the model a training configuration trained (its [training] out),
// scored on the configuration's test set ([data] test), as Joey NMT's `test` mode does. It is `eval`
// with those two taken from the file; every other option is eval's.
#include <fmt/format.h>

#include "args.hpp"
#include "commands.hpp"
#include "train_settings.hpp"

namespace translator {

int cmd_test(const Argv& argv) {
    const std::string usage =
        "usage: translator test --config FILE [eval's options: --beam K, --length-penalty A, --align F, --json, ...]\n"
        "  scores the checkpoint FILE's [training] out holds on FILE's [data] test, as\n"
        "  translator eval --checkpoint OUT --data TEST [options] does (translator eval --help lists the options)\n";
    Argv rest;
    std::string file;
    for (std::size_t i = 0; i < argv.size(); ++i) {
        if (argv[i] == "--help" || argv[i] == "-h") throw HelpRequested{usage};
        if (argv[i] == "--config" && i + 1 < argv.size()) file = argv[++i];
        else if (argv[i].rfind("--config=", 0) == 0) file = argv[i].substr(9);
        else if (argv[i] == "--checkpoint" || argv[i] == "--data" || argv[i].rfind("--checkpoint=", 0) == 0 || argv[i].rfind("--data=", 0) == 0)
            throw UsageError(fmt::format("{}: test takes the checkpoint and the data from --config; use eval to name them", argv[i]));
        else rest.push_back(argv[i]);
    }
    if (file.empty()) throw UsageError("--config: required (a training configuration, such as a checkpoint's run.toml)");
    const Args config("train", "", train_settings(), {"--config", file});  // the file, checked as train checks it
    if (!config.given("--test"))
        throw UsageError(fmt::format("--config {}: no test set to score; give [data] test = \"F.tsv\"", file));
    Argv eval{"--checkpoint", config.text("--out"), "--data", config.text("--test")};
    eval.insert(eval.end(), rest.begin(), rest.end());
    return cmd_eval(eval);
}

}  // namespace translator
