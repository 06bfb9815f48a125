// Interrupting training never loses the last good checkpoint, and resuming ends exactly where an
// uninterrupted run ends. A real `translator train` process is killed (SIGKILL) at many steps of
// its saves, through the save_step fault hook (io/files.hpp; TAPEGRAD_CRASH_AT in the translator's test
// build, tests/fault_injection.cpp): after each kill the checkpoint
// folder, if one was ever completed, must load; then --resume must finish the training with
// parameters equal, bit for bit, to those of a run that was never interrupted.
#include <sys/wait.h>
#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <filesystem>

#include "helpers.hpp"
#include "io/files.hpp"

namespace fs = std::filesystem;

namespace {

int run_status(const std::string& command) {  // exit status; -1 if killed by a signal
    const int st = std::system((command + " > /dev/null 2>&1").c_str());
    if (!WIFEXITED(st)) return -1;
    return WEXITSTATUS(st) == 128 + SIGKILL ? -1 : WEXITSTATUS(st);  // the shell reports a killed child as 137
}

// The parameters of the most recent training state in a checkpoint folder, as bytes.
std::string latest_parameters(const fs::path& dir) {
    const fs::path latest = fs::exists(dir / "last" / "train_state.txt") ? dir / "last" : dir;
    std::vector<fs::path> files;
    for (const auto& e : fs::directory_iterator(latest))
        if (e.path().extension() == ".npy") files.push_back(e.path());
    std::sort(files.begin(), files.end());
    std::string all;
    for (const auto& f : files) all += f.filename().string() + tg::read_text(f);
    return all;
}

}  // namespace

TEST_CASE("SIGKILL at any step of a save keeps the last checkpoint; --resume ends bit for bit where an uninterrupted run does") {
    const fs::path dir = fs::temp_directory_path() / ("tapegrad-interrupt-" + std::to_string(::getpid()));
    fs::remove_all(dir);
    fs::create_directories(dir);
    // The test build of the translator: the same program, with fault hooks that read TAPEGRAD_CRASH_AT and
    // TAPEGRAD_SIGINT_AT_STEP (tests/fault_injection.cpp); without them it runs as the shipped one.
    const std::string T = TG_TRANSLATOR_FAULTS, d = dir.string();
    REQUIRE(run_status(T + " generate --task local --n 120 --seed 1 --max-len 5 --out " + d + "/data") == 0);
    const std::string train = T + " train --train " + d + "/data.tsv --valid " + d + "/data.tsv --epochs 3 --batch 16" +
                              " --emb 8 --hidden 8 --attn 8 --seed 4 ";
    REQUIRE(run_status(train + "--out " + d + "/reference") == 0);
    const std::string reference = latest_parameters(dir / "reference");
    REQUIRE(!reference.empty());

    int crashed = 0;
    bool saved_before = false;  // once a save has completed, every later kill must find a checkpoint
    for (int n = 1; n < 100000; n = n < 8 ? n + 1 : n * 3 / 2) {  // every early step, then ever sparser
        CAPTURE(n);
        const fs::path out = dir / "run";
        fs::remove_all(out);
        const int status = run_status("TAPEGRAD_CRASH_AT=" + std::to_string(n) + " " + train + "--out " + out.string());
        if (status == 0) break;  // the run has fewer save steps than n: every step has been tried
        REQUIRE(status == -1);   // killed
        ++crashed;
        if (saved_before) CHECK_MESSAGE(fs::exists(out / "src.vocab"), "a kill lost the checkpoint of an earlier save");
        if (fs::exists(out / "src.vocab")) {
            saved_before = true;  // a checkpoint was completed before the kill: it loads
            CHECK(run_status(T + " eval --checkpoint " + out.string() + " --data " + d + "/data.tsv") == 0);
            CHECK(run_status(train + "--resume " + out.string() + " --out " + out.string()) == 0);
        } else {  // killed before the first save completed: nothing to keep, start again
            CHECK(run_status(train + "--out " + out.string()) == 0);
        }
        CHECK(latest_parameters(out) == reference);
        for (const auto& e : fs::directory_iterator(dir))  // no staging folder is left behind
            CHECK_MESSAGE(e.path().filename().string().find(".saving-") == std::string::npos, e.path());
    }
    MESSAGE(crashed << " runs killed at different steps of their saves");

    // Ctrl-C in the middle of an epoch: the run saves where it is and exits with 130; resuming
    // from there ends, again, exactly where the uninterrupted run does.
    const fs::path out = dir / "ctrl-c";
    CHECK(run_status("TAPEGRAD_SIGINT_AT_STEP=11 " + train + "--out " + out.string()) == 130);
    const fs::path state = fs::exists(out / "last" / "train_state.txt") ? out / "last" / "train_state.txt" : out / "train_state.txt";
    CHECK(tg::read_text(state).find("step 11\n") != std::string::npos);
    CHECK(run_status(train + "--resume " + out.string() + " --out " + out.string()) == 0);
    CHECK(latest_parameters(out) == reference);
    CHECK(crashed >= 15);
    CHECK(saved_before);
    fs::remove_all(dir);
}
