// libFuzzer target: the command-line parser. Any argument list, split from the input at newlines,
// must give values or a UsageError (or HelpRequested), never a crash, a hang or an uncaught
// exception: unknown options, missing values, '--name=value', repeated options, numbers out of
// range or malformed. The options are those of `translator train` (the most varied set).
#include <cstdint>
#include <string>
#include <vector>

#include "examples/translator/app/args.hpp"

using translator::Args;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string text(reinterpret_cast<const char*>(data), size);
    std::vector<std::string> argv;
    for (std::size_t start = 0; start <= text.size();) {
        const std::size_t end = std::min(text.find('\n', start), text.size());
        argv.push_back(text.substr(start, end - start));
        start = end + 1;
    }
    try {
        const Args args("train", "[options]",
                        {{"--train", "F.tsv", "training pairs", "", true},
                         {"--out", "DIR", "checkpoint directory", "", true},
                         {"--epochs", "N", "stop after N epochs", "10"},
                         {"--time-limit", "SECONDS", "stop after this long", "0"},
                         {"--lr", "X", "learning rate", "1e-3"},
                         {"--no-attention", "", "the baseline", ""},
                         translator::kBeamOption, translator::kMaxWordsOption},
                        argv);
        args.usage();
        args.text("--train");
        for (const char* o : {"--epochs", "--beam", "--max-words"}) try {
                args.integer(o, 1, 1000000);
            } catch (const translator::UsageError&) {
            }
        for (const char* o : {"--time-limit", "--lr"}) try {
                args.number(o, 0, 1e9);
            } catch (const translator::UsageError&) {
            }
        args.flag("--no-attention");
    } catch (const translator::UsageError&) {
    } catch (const translator::HelpRequested&) {
    }
    return 0;
}
