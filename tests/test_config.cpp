// translator train's settings from one schema (examples/translator/app/train_settings.cpp): the
// configuration file (`--config`), the run.toml every checkpoint holds, and the documents and help
// that cannot disagree with the schema.
#include <doctest/doctest.h>
#include <fmt/format.h>

#include <filesystem>
#include <fstream>
#include <regex>
#include <set>

#include "cli_helpers.hpp"
#include "io/files.hpp"
#include "train_settings.hpp"

using namespace tg::test;
namespace fs = std::filesystem;

namespace {

void write(const std::string& path, const std::string& text) {
    std::ofstream(path) << text;
}

// The files of a checkpoint, byte for byte, but the ones that name the run rather than the model.
bool same_weights(const fs::path& a, const fs::path& b) {
    std::size_t compared = 0;
    for (const auto& e : fs::directory_iterator(a)) {
        if (e.path().extension() != ".npy") continue;
        if (tg::read_text(e.path()) != tg::read_text(b / e.path().filename())) return false;
        ++compared;
    }
    return compared > 5;
}

}  // namespace

TEST_CASE("train --config: a TOML file of sections; options given override it; run.toml repeats the run") {
    Workdir w;
    const Trained& t = trained();
    const std::string data = t.data, train_tsv = t.w / "train.tsv", valid_tsv = t.w / "valid.tsv";
    write(w / "run.toml", fmt::format("# a user's configuration\n[data]\ntrain = '{}'\nvalid = '{}'\n\n[model.rnnsearch]\nemb = 8\n"
                                      "hidden = 16\nattn = 8\n\n[training]\nbatch = 16\nepochs = 1\nseed = 3\nlr = 0.002\n",
                                      train_tsv, valid_tsv));
    CHECK_RUN(run("train --config " + w / "run.toml" + " --out " + w / "a"), 0, "done after");
    const std::string saved = tg::read_text(w / "a/run.toml");
    CHECK(saved.find("hidden = 16") != std::string::npos);
    CHECK(saved.find("lr = 0.002") != std::string::npos);
    CHECK(saved.find(fmt::format("out = '{}'", w / "a")) != std::string::npos);  // paths made absolute
    // The checkpoint's run.toml repeats the run: the same weights, byte for byte, from another folder.
    CHECK_RUN(run("train --config " + w / "a/run.toml" + " --out " + w / "b", "", "", "/"), 0, "done after");
    CHECK(same_weights(w / "a", w / "b"));
    // Options given override the file; the checkpoint's run.toml says what was in force.
    CHECK_RUN(run("train --config " + w / "run.toml" + " --out " + w / "c --hidden 12"), 0);
    CHECK(tg::read_text(w / "c/config.txt").find("hidden 12\n") != std::string::npos);
    CHECK(tg::read_text(w / "c/run.toml").find("hidden = 12") != std::string::npos);
    // Resumed: the settings of the run before, and what is given now.
    CHECK_RUN(run("train " + data + "--resume " + w / "a" + " --out " + w / "a --epochs 2 --valid-every 5"), 0,
              "resuming with --epochs 2 (it was 1)", "resuming with --valid-every 5 (it was 0)");
    const std::string resumed = tg::read_text(w / "a/run.toml");
    CHECK(resumed.find("epochs = 2") != std::string::npos);
    CHECK(resumed.find("valid-every = 5") != std::string::npos);
    CHECK(resumed.find("lr = 0.002") != std::string::npos);
    CHECK(resumed.find("resume") == std::string::npos);  // the command line's alone
}

TEST_CASE("train --config: a wrong file is one line naming its file, line and column, status 2") {
    Workdir w;
    const std::string rest = " --train x.tsv --valid y.tsv --out " + w / "never";
    const std::vector<std::pair<std::string, std::string>> cases = {
        {"[model.rnnsearch]\nhiden = 3\n", ":2:1: unknown setting 'hiden' in [model.rnnsearch]"},
        {"[model]\nhidden = 3\n", ":2:1: 'hidden' belongs in [model.rnnsearch], not in [model]"},
        {"batch = 3\n", ":1:1: 'batch' belongs in [training], not at the top"},
        {"[model.rnnsearch]\nhidden = -3\n", ":2:10: hidden: expected a whole number from 1 to 100000, got '-3'"},
        {"[training]\nlr = 'fast'\n", ":2:6: lr: expected a number from 0 to 10, got 'fast'"},
        {"[model\nhidden = 3\n", ":1:7: "},
        {"[training]\nresume = 'a'\n", ":2:1: 'resume' belongs on the command line only"},
        {"[model.transformer]\npre-norm = 1\n", ":2:12: pre-norm: expected true or false"},
        {"[training]\nbatch = [1, 2]\n", ":2:9: batch: expected N"},
        {"[training]\n\"a\\u001b[31m\" = 1\n", ":2:1: unknown setting 'a?[31m'"},
    };
    for (std::size_t i = 0; i < cases.size(); ++i) {
        const std::string file = w / fmt::format("c{}.toml", i);
        write(file, cases[i].first);
        const Result r = run("train --config " + file + rest);
        CHECK_MESSAGE(r.status == 2, r.output);
        CHECK_MESSAGE(r.output.find(file + cases[i].second) != std::string::npos, r.output);
        CHECK(std::count(r.output.begin(), r.output.end(), '\n') == 1);
        CHECK(r.output.find('\x1b') == std::string::npos);
    }
    const std::string absent = "--config " + w / "absent.toml" + ": no such file";
    CHECK_RUN(run("train --config " + w / "absent.toml" + rest), 2, absent.c_str());
    CHECK_RUN(run("train --config " + w.path.string() + rest), 2, ": not a file");
    CHECK_FALSE(fs::exists(w / "never"));
}

TEST_CASE("train's settings: --help and docs/spec/cli.md name every one of the schema, in its section") {
    const std::vector<translator::OptionSpec> settings = translator::train_settings();
    const tg::test::Result help = run("train --help");
    REQUIRE(help.status == 0);
    const std::string cli = tg::read_text(fs::path(TG_SOURCE_ROOT) / "docs/spec/cli.md");
    const std::size_t from = cli.find("## train:");
    REQUIRE(from != std::string::npos);
    const std::string section = cli.substr(from, cli.find("\n## ", from + 1) - from);
    std::set<std::string> sections;
    for (const translator::OptionSpec& s : settings) {
        CHECK_MESSAGE(help.output.find("  " + s.name + " ") != std::string::npos, s.name);
        CHECK_MESSAGE(section.find("`" + s.name) != std::string::npos, s.name << " is not in docs/spec/cli.md's train section");
        if (!s.section.empty()) sections.insert(s.section);
    }
    for (const std::string& s : sections) CHECK_MESSAGE(section.find("[" + s + "]") != std::string::npos, s);
    // and nothing in the section's synopsis that the schema does not have
    const std::regex option("--[a-z][a-z-]+");
    for (auto it = std::sregex_iterator(section.begin(), section.end(), option); it != std::sregex_iterator(); ++it) {
        const std::string name = it->str();
        const bool known = name == "--help" || std::any_of(settings.begin(), settings.end(), [&](const auto& s) { return s.name == name; });
        CHECK_MESSAGE(known, name << " in docs/spec/cli.md's train section is not a setting");
    }
}

TEST_CASE("eval --length-penalty: scores what translate --length-penalty writes, and says it in --json") {
    Workdir w;
    const Trained& t = trained();
    const std::string valid = t.w / "valid.tsv", model = t.model;
    CHECK_RUN(run("eval --checkpoint " + model + " --data " + valid + " --beam 4 --length-penalty 0 --out-hyp " + w / "lp0.txt"), 0);
    CHECK_RUN(run("eval --checkpoint " + model + " --data " + valid + " --beam 4 --out-hyp " + w / "per_word.txt"), 0);
    const Result translated = run_shell("cut -f1 '" + valid + "' | " + TG_TRANSLATOR + " translate --checkpoint " + model +
                                        " --beam 4 --length-penalty 0");
    REQUIRE(translated.status == 0);
    CHECK(tg::read_text(w / "lp0.txt") == translated.output);  // the translations eval scored are translate's
    CHECK(tg::read_text(w / "lp0.txt") != tg::read_text(w / "per_word.txt"));  // A = 0 favours short ones
    CHECK_RUN(run("eval --checkpoint " + model + " --data " + valid + " --beam 3 --length-penalty 0.6 --json"), 0,
              "\"beam\": 3, \"length_penalty\": 0.6,");
    CHECK_RUN(run("eval --checkpoint " + model + " --data " + valid + " --beam 3 --json"), 0, "\"length_penalty\": null");
    CHECK_RUN(run("eval --checkpoint " + model + " --data " + valid + " --length-penalty 1"), 2,
              "--length-penalty: ranks beam search's hypotheses; give --beam K > 1");
}

TEST_CASE("a validation's report: the learning rate in force and the first sentences' translations") {
    Workdir w;
    const Trained& t = trained();
    // 300 pairs in batches of 30: the first validation after step 10, half way up a warmup of 20 steps
    const Result r = run("train " + t.data + "--emb 8 --hidden 16 --attn 8 --batch 30 --epochs 2 --warmup 20 --show-examples 1 --out " +
                         w / "m");
    REQUIRE(r.status == 0);
    CHECK(r.output.find("step     10  valid loss") != std::string::npos);
    CHECK(r.output.find("lr 0.0005  best, saved") != std::string::npos);  // 0.001 x 10 / 20
    const std::string first_source = tg::read_text(t.w / "valid.tsv").substr(0, tg::read_text(t.w / "valid.tsv").find('\t'));
    std::size_t shown = 0;
    for (std::size_t at = 0; (at = r.output.find("\n    source       " + first_source + "\n    reference    ", at)) != std::string::npos; ++at)
        ++shown;
    CHECK(shown == 2);  // once after each of the 2 validations
    CHECK(r.output.find("\n    translation  ") != std::string::npos);
    const Result none = run("train " + t.data + "--emb 8 --hidden 16 --attn 8 --epochs 1 --show-examples 0 --out " + w / "n");
    REQUIRE(none.status == 0);
    CHECK(none.output.find("    source ") == std::string::npos);
}

TEST_CASE("translator test --config: eval of the model a configuration trained, on its [data] test") {
    Workdir w;
    const Trained& t = trained();
    const std::string valid = t.w / "valid.tsv";
    write(w / "run.toml", fmt::format("[data]\ntrain = '{}'\nvalid = '{}'\ntest = '{}'\n[model.rnnsearch]\nemb = 8\nhidden = 16\n"
                                      "[training]\nepochs = 1\nout = '{}'\n", t.w / "train.tsv", valid, valid, w / "m"));
    REQUIRE(run("train --config " + w / "run.toml").status == 0);
    CHECK(tg::read_text(w / "m/run.toml").find(fmt::format("test = '{}'", valid)) != std::string::npos);
    const Result tested = run("test --config " + w / "m/run.toml" + " --beam 2 --json");
    const Result evaluated = run("eval --checkpoint " + w / "m" + " --data " + valid + " --beam 2 --json");
    REQUIRE(tested.status == 0);
    CHECK(tested.output == evaluated.output);
    CHECK(tested.output.find("\"beam\": 2") != std::string::npos);
    write(w / "no_test.toml", fmt::format("[data]\ntrain = '{}'\nvalid = '{}'\n[training]\nout = '{}'\n", t.w / "train.tsv", valid, w / "m"));
    CHECK_RUN(run("test --config " + w / "no_test.toml"), 2, "no test set to score; give [data] test = \"F.tsv\"");
    CHECK_RUN(run("test --config " + w / "run.toml --data " + valid), 2, "--data: test takes the checkpoint and the data from --config");
    CHECK_RUN(run("test"), 2, "--config: required");
}

TEST_CASE("every command's --help and its docs/spec/cli.md table list the same options") {
    const std::string cli = tg::read_text(fs::path(TG_SOURCE_ROOT) / "docs/spec/cli.md");
    const std::regex help_option("\n  (--[a-z][a-z-]+)");
    const std::regex table_option("\n\\| `(--[a-z][a-z-]+)` \\|");
    for (const std::string command : {"generate", "train", "eval", "translate", "attention", "grads", "average", "serve"}) {
        CAPTURE(command);
        const Result help = run(command + " --help");
        REQUIRE(help.status == 0);
        std::set<std::string> in_help, in_table;
        for (auto it = std::sregex_iterator(help.output.begin(), help.output.end(), help_option); it != std::sregex_iterator(); ++it)
            if ((*it)[1] != "--help") in_help.insert((*it)[1]);
        const std::size_t from = cli.find("\n## " + command + ":");
        REQUIRE(from != std::string::npos);
        const std::string section = cli.substr(from, cli.find("\n## ", from + 1) - from);
        for (auto it = std::sregex_iterator(section.begin(), section.end(), table_option); it != std::sregex_iterator(); ++it)
            in_table.insert((*it)[1]);
        CHECK(in_help.size() >= 2);
        CHECK(in_help == in_table);
    }
}

TEST_CASE("a checkpoint's run.toml resumes it: the settings it repeats are no change, a different one is refused") {
    Workdir w;
    const Trained& t = trained();
    CHECK_RUN(run("train " + t.data + "--emb 8 --hidden 16 --attn 8 --epochs 1 --subwords 40 --out " + w / "s"), 0);
    // everything run.toml says again (--subwords 40 among it) is what the training was started with
    CHECK_RUN(run("train --config " + w / "s/run.toml" + " --resume " + w / "s" + " --epochs 2"), 0, "resuming with --epochs 2 (it was 1)");
    CHECK_RUN(run("train --config " + w / "s/run.toml" + " --resume " + w / "s" + " --epochs 3 --subwords 50"), 2,
              "--subwords 50: a resumed training keeps the subword model it was started with (40)");
    CHECK_RUN(run("train --config " + w / "s/run.toml" + " --resume " + w / "s" + " --epochs 3 --hidden 32"), 2,
              "--hidden 32: the training being resumed has --hidden 16");
}
