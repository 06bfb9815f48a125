// The fourth reliability probe (issue 46), its command-line cases: a user's files, wrong answers and
// messages, and what one sentence may cost. (The server's cases are tests/test_server.cpp.) The
// numbers in the test names are the issue's.
#include <filesystem>
#include <fstream>
#include <limits>
#include <optional>
#include <sstream>

#include "cli_helpers.hpp"
#include "io/checkpoint.hpp"
#include "io/files.hpp"
#include "io/npy.hpp"

#include <fmt/format.h>

namespace fs = std::filesystem;
using namespace tg::test;

TEST_CASE("46.13, 16: translate counts a source's pieces and each word's bytes before decoding") {
    Trained& t = trained();
    // A word model reads words: --max-pieces bounds them as it bounds a subword model's pieces.
    CHECK_RUN(run("translate --checkpoint " + t.model + " --max-pieces 3", "happy old house\nhappy old red house\n"), 1, "stdin:2",
              "4 pieces", "the limit is 3 (--max-pieces)");
    CHECK_RUN(run("translate --checkpoint " + t.model, "happy " + std::string(1200, 'x') + "\n"), 1, "stdin:1",
              "word 2 is 1200 bytes; the limit is 1000");
}

TEST_CASE("46.21: --n-best gives an empty line its entry, in the format of every other") {
    Trained& t = trained();
    const Result r = run("translate --checkpoint " + t.model + " --beam 2 --n-best 2", "happy old house\n\nhappy\n");
    REQUIRE(r.status == 0);
    std::istringstream lines(r.output);
    std::vector<std::string> got;
    for (std::string line; std::getline(lines, line);) got.push_back(line);
    REQUIRE(got.size() == 5);  // 2 + 1 + 2
    CHECK(got[0].rfind("0 ||| ", 0) == 0);
    CHECK(got[2] == "1 |||  ||| 0.000000");
    CHECK(got[3].rfind("2 ||| ", 0) == 0);
}

TEST_CASE("46.17: no checkpoint is written inside another, where the outer one's next save would delete it") {
    Trained& t = trained();
    Workdir w;
    const std::string a = copy_model(w, "a"), b = copy_model(w, "b");
    CHECK_RUN(run("average " + a + " " + b + " --out " + a + "/avg"), 2, "inside the checkpoint folder");
    CHECK_RUN(run("average " + a + " " + b + " --out " + b + "/deeper/avg"), 2, "inside the checkpoint folder");
    CHECK_RUN(run(t.train + "--epochs 1 --out " + a + "/other"), 2, "inside the checkpoint folder");
    CHECK_RUN(run("grads --checkpoint " + a + " --data " + t.w / "valid.tsv" + " --out " + a + "/g"), 2, "inside the checkpoint folder");
    CHECK_FALSE(fs::exists(fs::path(a) / "avg"));
    CHECK_RUN(run("average " + a + " " + b + " --out " + w / "avg"), 0, "averaged 2 checkpoints");
}

TEST_CASE("46.18, 20: average never replaces a training's checkpoint unasked, and never writes a non-finite weight") {
    Trained& t = trained();
    Workdir w;
    const std::string a = copy_model(w, "a"), b = copy_model(w, "b");
    REQUIRE(fs::exists(fs::path(t.model) / "train_state.txt"));
    const std::string run_dir = copy_model(w, "run");
    CHECK_RUN(run("average " + a + " " + b + " --out " + run_dir), 2, "train_state.txt", "--force");
    CHECK(fs::exists(fs::path(run_dir) / "train_state.txt"));
    CHECK_RUN(run(t.train + "--epochs 2 --resume " + run_dir + " --out " + run_dir), 0);  // still resumable
    CHECK_RUN(run("average " + a + " " + b + " --out " + run_dir + " --force"), 0, "averaged");

    // Two loadable checkpoints whose weights are both 3.4e38 somewhere: their mean is 3.4e38, their float sum inf.
    Workdir v;
    const std::string x = copy_model(v, "x"), y = copy_model(v, "y");
    for (const std::string& dir : {x, y}) {
        const fs::path file = fs::path(dir) / "src_embed.weight.npy";
        tg::Tensor weight = tg::load_npy(file);
        weight.data()[0] = 3.4e38f;
        tg::save_npy(file, weight);
        fs::remove(fs::path(dir) / tg::kCheckpointMarker);  // edited by hand: no longer the saved fingerprint
    }
    const Result big = run("average " + x + " " + y + " --out " + v / "avg");
    CHECK_RUN(big, 0, "averaged");
    CHECK(tg::load_npy(v.path / "avg/src_embed.weight.npy").data()[0] == 3.4e38f);
    for (const std::string& dir : {x, y}) {  // and a mean that is not finite is refused
        const fs::path file = fs::path(dir) / "src_embed.weight.npy";
        tg::Tensor weight = tg::load_npy(file);
        weight.data()[1] = std::numeric_limits<float>::infinity();
        tg::save_npy(file, weight);
    }
    CHECK_RUN(run("average " + x + " " + y + " --out " + v / "inf"), 1);  // refused as it loads, or as it averages
    CHECK_FALSE(fs::exists(v.path / "inf"));
}

TEST_CASE("46.19: a lock removed by hand does not let two trainings write one folder") {
    Trained& t = trained();
    Workdir w;
    const std::string out = w / "run";
    // The first training's lock is removed as it starts (as a cleanup script would) and a second
    // training takes the folder: the first must not save over it, nor remove the second's lock.
    std::optional<tg::CheckpointLock> older(std::in_place, out);  // the first training's lock
    const fs::path lock = tg::CheckpointLock::path_for(out);
    fs::remove(lock);                           // removed by hand...
    tg::CheckpointLock newer(out);              // ...and a second training takes the folder
    CHECK(newer.held());
    CHECK_FALSE(older->held());                 // the first knows it no longer holds it: its saves refuse
    CHECK_THROWS_WITH_AS(older->check_held(), doctest::Contains("removed or replaced"), tg::FileError);
    older.reset();                              // and ending, it leaves the second's lock alone
    CHECK(fs::exists(lock));
    CHECK(newer.held());

    // A real training whose lock is removed and replaced after its first step: its next save fails
    // rather than write over the folder, and the replacement lock stays.
    Workdir v;
    const std::string run_out = v / "run";
    const std::string lock_file = tg::CheckpointLock::path_for(run_out).string();
    const Result r = run(t.train + "--epochs 3 --out " + run_out, "",
                         "TAPEGRAD_REPLACE_LOCK_AT_STEP=1 TAPEGRAD_LOCK=" + lock_file);
    CHECK_RUN(r, 1, "removed or replaced", "nothing is saved over it");
    CHECK_FALSE(fs::exists(fs::path(run_out) / "train_state.txt"));
    CHECK(tg::read_text(lock_file) == "tapegrad lock\npid 1\n");
}

TEST_CASE("46.24, 25: a checkpoint's config.txt and kind are read with a one-line error naming file, line and key") {
    Trained& t = trained();
    Workdir w;
    const std::string m = copy_model(w, "m");
    fs::remove(fs::path(m) / tg::kCheckpointMarker);  // exported weights: no marker, no fingerprint
    const fs::path config = fs::path(m) / "config.txt";
    const std::string good = tg::read_text(config);
    tg::write_file_atomically(config, good + "hidden 999\n");
    CHECK_RUN(run("translate --checkpoint " + m, "happy\n"), 1, "config.txt:", "'hidden' given again (first on line");
    tg::write_file_atomically(config, "");
    CHECK_RUN(run("translate --checkpoint " + m, "happy\n"), 1, "config.txt:1: empty");
    tg::write_file_atomically(config, good + "\x1b[31mred \x07" "bell\n");
    const Result escape = run("translate --checkpoint " + m, "happy\n");
    CHECK(escape.status == 1);
    CHECK(escape.output.find('\x1b') == std::string::npos);
    CHECK(escape.output.find('\x07') == std::string::npos);
    fs::remove(config);
    fs::create_symlink("config.txt", config);
    CHECK_RUN(run("translate --checkpoint " + m, "happy\n"), 1, "config.txt: cannot open");
    // A gradients checkpoint is not a model.
    const std::string g = w / "g";
    CHECK_RUN(run("grads --checkpoint " + t.model + " --data " + t.w / "valid.tsv" + " --out " + g), 0);
    CHECK_RUN(run("translate --checkpoint " + g, "happy\n"), 1, "kind 'gradients'");
    // One failure, one line: stdout on a full disk.
    const Result full = run_shell("printf 'happy old house\\n' | " + std::string(TG_TRANSLATOR) + " translate --checkpoint " + t.model +
                                  " 2>&1 >/dev/full");
    CHECK(full.status == 1);
    CHECK(std::count(full.output.begin(), full.output.end(), '\n') == 1);
}

TEST_CASE("46.22: the whole run's log is where training says it is") {
    Trained& t = trained();
    Workdir w;
    // --patience 1: training stops at the first validation that is not better, so the last state is
    // not the best, and OUT/ holds a log that ends before the run did.
    const Result r = run(t.train + "--epochs 50 --valid-every 2 --lr 0.1 --early-stopping loss --patience 1 --out " + w / "es");
    REQUIRE(r.status == 0);
    const fs::path whole = w.path / "es/last/log.jsonl";
    REQUIRE(fs::exists(whole));
    CHECK(r.output.find("the whole run's log and curves: " + w / "es" + "/last/log.jsonl") != std::string::npos);
    const auto lines = [](const fs::path& f) {
        const std::string text = tg::read_text(f);
        return std::count(text.begin(), text.end(), '\n');
    };
    CHECK(lines(whole) == lines(w.path / "es/log.jsonl") + 1);  // one more validation: the one not better
    const std::string log = tg::read_text(whole);
    CHECK(log.rfind(tg::read_text(w.path / "es/log.jsonl"), 0) == 0);  // the best's log is its beginning
}

#ifndef __SANITIZE_ADDRESS__  // a sanitized program needs terabytes of address space: no ulimit -v for it
TEST_CASE("46.15: under an address-space limit the translator answers or fails in one line, never spins") {
    Trained& t = trained();
    // OpenBLAS mapped a 128 MB buffer for a thread per core as it loaded, and a thread whose map was
    // refused retried for ever: `--version` under 150 MB never ended on 2 cores.
    const Result version = run_shell("ulimit -v 150000; timeout 60 " + std::string(TG_TRANSLATOR) + " --version 2>&1");
    CHECK_RUN(version, 0, "translator (tapegrad)");
    // A product whose buffer cannot be mapped is a one-line error (or, built without OpenBLAS's
    // products, a translation): never timeout's 124.
    const Result tight = run_shell("printf 'happy old house\\n' | (ulimit -v 150000; timeout 60 " + std::string(TG_TRANSLATOR) +
                                   " translate --checkpoint " + t.model + ") 2>&1");
    CHECK_MESSAGE((tight.status == 0 || tight.status == 1), tight.output);
    if (tight.status == 1) {
        CHECK(tight.output.find("out of memory") != std::string::npos);
        CHECK(std::count(tight.output.begin(), tight.output.end(), '\n') == 1);
    }
}
#endif
