// translator generate: a built-in synthetic language pair, as PREFIX.tsv and PREFIX.align.
#include <fmt/core.h>

#include <filesystem>
#include <stdexcept>

#include "args.hpp"
#include "commands.hpp"
#include "io/files.hpp"
#include "tasks.hpp"

namespace translator {

int cmd_generate(const Argv& argv) {
    Args args("generate", "--task NAME --n N --seed S [--min-len L] [--max-len L] [--split S] --out PREFIX | --list",
              {{"--task", "NAME", "which language pair (see --list)", "", false},
               {"--n", "N", "number of sentence pairs", "", false},
               {"--seed", "S", "random seed: the same seed gives the same data", "", false},
               {"--min-len", "L", "shortest source sentence, in words", "1", false},
               {"--max-len", "L", "longest source sentence, in words", "30", false},
               {"--split", "S", "train, valid, test or all: a hash of each source sentence decides its split, so "
                                "splits never share a sentence", "all", false},
               {"--out", "PREFIX", "writes PREFIX.tsv and PREFIX.align", "", false},
               {"--list", "", "name the tasks and describe each in a line", "", false}},
              argv);
    if (args.flag("--list")) {
        for (const TaskInfo& t : list_tasks()) fmt::print("{:<6} {}\n", t.name, t.description);
        return 0;
    }
    for (const char* required : {"--task", "--n", "--seed", "--out"})
        if (!args.given(required)) throw UsageError(fmt::format("{}: required", required));
    const std::string task = args.text("--task");
    if (!task_exists(task)) throw UsageError(fmt::format("--task: unknown task '{}' (see --list)", task));
    const auto n = static_cast<std::size_t>(args.integer("--n", 1, 10'000'000));
    const auto seed = static_cast<std::uint64_t>(args.integer("--seed", 0, 1LL << 62));
    const auto min_len = static_cast<std::size_t>(args.integer("--min-len", 1, 1000));
    const auto max_len = static_cast<std::size_t>(args.integer("--max-len", 1, 1000));
    if (min_len > max_len) throw UsageError(fmt::format("--min-len: {} is above --max-len {}", min_len, max_len));
    const std::string split_name = args.text("--split");
    Split split = Split::all;
    if (split_name == "train") split = Split::train;
    else if (split_name == "valid") split = Split::valid;
    else if (split_name == "test") split = Split::test;
    else if (split_name != "all") throw UsageError(fmt::format("--split: expected train, valid, test or all, got '{}'", split_name));

    std::vector<Example> examples;
    try {
        examples = generate(task, n, seed, min_len, max_len, split);
    } catch (const std::invalid_argument& e) {
        throw UsageError(fmt::format("--max-len: {}", e.what()));
    }
    std::vector<tg::text::SentencePair> pairs;
    std::vector<tg::text::Alignment> alignments;
    for (Example& e : examples) {
        pairs.push_back(std::move(e.pair));
        alignments.push_back(std::move(e.alignment));
    }
    const std::string prefix = args.text("--out");
    if (const auto parent = std::filesystem::path(prefix).parent_path(); !parent.empty()) {
        std::error_code ec;
        std::filesystem::create_directories(parent, ec);  // --out data/train: make data/
        if (ec) throw tg::FileError(fmt::format("{}: cannot create: {}", parent.string(), ec.message()));
    }
    tg::text::write_parallel(prefix + ".tsv", pairs);
    tg::text::write_alignments(prefix + ".align", alignments);
    fmt::print("wrote {} pairs of task '{}' to {}.tsv and {}.align\n", pairs.size(), task, prefix, prefix);
    return 0;
}

}  // namespace translator
