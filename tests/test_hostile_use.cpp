// The third reliability probe (issue 25), case by case: each test here is a way a hostile new user
// lost data, lost training, crashed the translator or made it misbehave before, run as that user ran
// it. The numbers in the test names are the issue's.
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <numeric>
#include <sstream>
#include <thread>

#include "cli_helpers.hpp"
#include "io/checkpoint.hpp"
#include "io/files.hpp"
#include "io/npy.hpp"
#include "layers/linear.hpp"
#include "training.hpp"

#include <fmt/format.h>

namespace fs = std::filesystem;
using namespace tg::test;

namespace {

// Runs `sh -c "exec COMMAND"` and returns its exit status and peak resident memory in MB (wait4's
// rusage is the command's own, not the test's or another child's).
struct Measured {
    int status = -1;
    double peak_mb = 0;
};
Measured run_measured(const std::string& command) {
    const pid_t pid = ::fork();
    if (pid == 0) {
        ::execl("/bin/sh", "sh", "-c", ("exec " + command).c_str(), static_cast<char*>(nullptr));
        ::_exit(127);
    }
    int status = 0;
    struct rusage ru {};
    ::wait4(pid, &status, 0, &ru);
    return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, static_cast<double>(ru.ru_maxrss) / 1024.0};
}

bool built_with_sanitizers() {  // ASan reserves terabytes of address space: no --as limit then
    return run("--version").output.find("sanitize") != std::string::npos ||
           std::string(TG_BUILD_ROOT).find("sanitize") != std::string::npos;
}

std::string T() { return TG_TRANSLATOR; }


}  // namespace

TEST_CASE("1: a DIR.lock that is not tapegrad's is never truncated, removed or followed") {
    Trained& t = trained();
    Workdir w;
    tg::write_file_atomically(w / "lk.lock", "notes\n");
    CHECK_RUN(run(t.train + "--epochs 1 --out " + w / "lk"), 1, "lk.lock", "not a lock file tapegrad made");
    CHECK(tg::read_text(w / "lk.lock") == "notes\n");
    CHECK(!fs::exists(w.path / "lk"));

    tg::write_file_atomically(w / "important.txt", "do not lose\n");
    fs::create_symlink(w.path / "important.txt", w.path / "sl.lock");
    CHECK_RUN(run(t.train + "--epochs 1 --out " + w / "sl"), 1, "sl.lock", "symbolic link");
    CHECK(tg::read_text(w / "important.txt") == "do not lose\n");
    CHECK(fs::is_symlink(w.path / "sl.lock"));

    // A stale lock of tapegrad's (its process is gone) is taken over, and removed when training ends.
    tg::write_file_atomically(w / "stale.lock", "tapegrad lock\npid 4194000\n");
    CHECK_RUN(run(t.train + "--epochs 1 --out " + w / "stale"), 0, "saved");
    CHECK(!fs::exists(w.path / "stale.lock"));
    {  // and a lock held is refused, naming the holder
        tg::CheckpointLock held(w.path / "busy");
        CHECK(tg::read_text(w / "busy.lock") == "tapegrad lock\npid " + std::to_string(::getpid()) + "\n");
        const std::string holder = "pid " + std::to_string(::getpid());
        CHECK_THROWS_WITH_AS(tg::CheckpointLock(w.path / "busy/."), doctest::Contains(holder.c_str()), tg::FileError);
    }
    CHECK(!fs::exists(w.path / "busy.lock"));
}

TEST_CASE("2: no output option can write into the checkpoint being read") {
    Trained& t = trained();
    Workdir w;
    const std::string m = copy_model(w, "x");
    const std::string before = listing(m);
    CHECK_RUN(run("attention --checkpoint " + m + " --source 'the dog' --svg " + w / "a.svg --csv " + m + "/src.vocab"), 2,
              "--csv", "inside");
    CHECK_RUN(run("attention --checkpoint " + m + " --source 'the dog' --svg " + m + "/a.svg"), 2, "--svg", "inside");
    CHECK_RUN(run("eval --checkpoint " + m + " --data " + t.w / "valid.tsv" + " --out-hyp " + m + "/tgt.vocab"), 2,
              "--out-hyp", "inside");
    CHECK_RUN(run("eval --checkpoint " + m + " --data " + t.w / "valid.tsv" + " --out-align " + m + "/optimizer/x"), 2,
              "--out-align", "inside");
    CHECK(listing(m) == before);
    CHECK_RUN(run("eval --checkpoint " + m + " --data " + t.w / "valid.tsv"), 0, "all");
}

TEST_CASE("3: a write error on stdout is status 1, not a success with the output missing") {
    Trained& t = trained();
    std::string lines;
    for (int i = 0; i < 5000; ++i) lines += "the dog sees a cat\n";
    Workdir w;
    tg::write_file_atomically(w / "in.txt", lines);
    // (stderr to the test, stdout to the full device)
    CHECK_RUN(run_shell(T() + " translate --checkpoint " + t.model + " < " + w / "in.txt" + " 2>&1 > /dev/full"), 1, "stdout",
              "write error");
    CHECK_RUN(run_shell(T() + " eval --json --checkpoint " + t.model + " --data " + t.w / "valid.tsv" + " 2>&1 > /dev/full"), 1,
              "stdout");
    CHECK_RUN(run_shell(T() + " generate --list 2>&1 > /dev/full"), 1, "stdout");
    // and with nowhere to say it either (stderr full too): status 1, no abort
    CHECK_RUN(run_shell(T() + " translate --checkpoint " + t.model + " < " + w / "in.txt" + " > /dev/full 2>&1"), 1);
    CHECK_RUN(run("translate --checkpoint " + t.model + " < " + w / "in.txt" + " > /dev/null"), 0);
}

TEST_CASE("4: the fallback save (no atomic exchange, as on overlayfs) never removes a DIR.old of the user's") {
    Trained& t = trained();
    Workdir w;
    const std::string ck = copy_model(w, "ck");
    fs::create_directories(w.path / "ck.old");
    tg::write_file_atomically(w / "ck.old/mine.txt", "mine\n");
    CHECK_RUN(run(t.train + "--epochs 2 --resume " + ck + " --out " + ck, "", "TAPEGRAD_NO_EXCHANGE=1"), 2, "ck.old",
              "not a checkpoint tapegrad moved aside");
    CHECK(tg::read_text(w / "ck.old/mine.txt") == "mine\n");
    // Without it, the fallback path saves (and leaves no DIR.old behind).
    fs::remove_all(w.path / "ck.old");
    CHECK_RUN(run(t.train + "--epochs 2 --resume " + ck + " --out " + ck, "", "TAPEGRAD_NO_EXCHANGE=1"), 0, "saved");
    CHECK(!fs::exists(w.path / "ck.old"));
    CHECK(tg::read_text(fs::path(ck) / "train_state.txt").find("epoch 2\n") != std::string::npos);
    // A user's DIR.old stops the library's save too, before anything is written.
    fs::create_directories(w.path / "ck.old");
    tg::Linear layer(2, 2, *std::make_unique<tg::Generator>(1));
    CHECK_THROWS_WITH_AS(tg::save_checkpoint(w.path / "ck", layer), doctest::Contains("ck.old"), tg::FileError);
}

TEST_CASE("4, 9: on overlayfs, a checkpoint in a lower layer is refused before training, never half-saved") {
    Trained& t = trained();
    Workdir w;
    for (const char* d : {"lower", "upper", "work", "merged"}) fs::create_directories(w.path / d);
    fs::copy(t.model, w.path / "lower" / "ck", fs::copy_options::recursive);
    const std::string options = "lowerdir=" + w / "lower" + ",upperdir=" + w / "upper" + ",workdir=" + w / "work" +
                                ",redirect_dir=off";
    if (::mount("overlay", (w / "merged").c_str(), "overlay", 0, options.c_str()) != 0) {
        MESSAGE("overlayfs cannot be mounted here (not root?): the fallback is checked by case 4's test alone");
        return;
    }
    const std::string ck = w / "merged/ck";
    const std::string before = listing(ck);
    CHECK_RUN(run(t.train + "--epochs 2 --resume " + ck + " --out " + ck), 2, "could not publish", "Invalid cross-device link");
    CHECK(listing(ck) == before);
    CHECK(!fs::exists(w.path / "merged" / "ck.old"));
    CHECK_RUN(run(t.train + "--epochs 2 --resume " + ck + " --out " + w / "merged/ck2"), 0, "saved");  // a new folder works
    ::umount((w / "merged").c_str());
}

TEST_CASE("5: the same file named two ways is one file") {
    Trained& t = trained();
    Workdir w;
    fs::create_directories(w.path / "logs");
    const std::string eval = "eval --checkpoint " + t.model + " --data " + t.w / "valid.tsv" + " --align " + t.w / "valid.align";
    CHECK_RUN(run(eval + " --out-hyp " + w / "logs/h.txt" + " --out-align " + w / "logs/./h.txt"), 2, "--out-align", "same file");
    fs::create_symlink(w.path / "logs", w.path / "link");
    tg::write_file_atomically(w / "logs/h.txt", "keep\n");
    CHECK_RUN(run(eval + " --out-hyp " + w / "logs/h.txt" + " --out-align " + w / "link/h.txt"), 2, "same file");
    CHECK_RUN(run(eval + " --out-hyp " + w / "link/../logs/h.txt" + " --out-align " + w / "logs/h.txt"), 2, "same file");
    CHECK(tg::read_text(w / "logs/h.txt") == "keep\n");
    // An input named another way is the input.
    CHECK_RUN(run(eval + " --out-hyp " + t.w / "./valid.align"), 2, "is the input");
}

TEST_CASE("6: nothing at --out is replaced in silence") {
    Trained& t = trained();
    Workdir w;
    SUBCASE("a file of the user's inside a checkpoint: refused up front, and kept if it comes during training") {
        const std::string ck = copy_model(w, "ck");
        CHECK_RUN(run("eval --checkpoint " + t.model + " --data " + t.w / "valid.tsv" + " --out-hyp " + ck + "/hyp.txt"), 2,
                  "inside the checkpoint folder");
        tg::write_file_atomically(fs::path(ck) / "notes.txt", "my notes\n");
        CHECK_RUN(run(t.train + "--epochs 2 --resume " + ck + " --out " + ck), 2, "notes.txt", "did not write");
        // The library's save keeps what is not its own (a file and a folder), by hard links.
        fs::create_directories(fs::path(ck) / "plots");
        tg::write_file_atomically(fs::path(ck) / "plots/p.svg", "<svg/>\n");
        tg::Generator gen(1);
        tg::Linear layer(2, 2, gen);
        tg::Linear other(2, 2, gen);
        tg::save_checkpoint(w.path / "lib", layer);
        tg::write_file_atomically(w / "lib/notes.txt", "my notes\n");
        fs::create_directories(w.path / "lib/plots");
        tg::write_file_atomically(w / "lib/plots/p.svg", "<svg/>\n");
        tg::save_checkpoint(w.path / "lib", other);
        CHECK(tg::read_text(w / "lib/notes.txt") == "my notes\n");
        CHECK(tg::read_text(w / "lib/plots/p.svg") == "<svg/>\n");
        CHECK(tg::unknown_entries(w.path / "lib") == std::vector<std::string>{"notes.txt", "plots"});
        tg::load_checkpoint(w.path / "lib", layer);  // and the checkpoint is the new one
        CHECK(layer.weight.value().data()[0] == other.weight.value().data()[0]);
    }
    SUBCASE("grads --out over a trained model: refused unless --force") {
        const std::string m = copy_model(w, "m");
        const std::string before = listing(m);
        const std::string grads = "grads --checkpoint " + t.model + " --data " + t.w / "valid.tsv" + " --out " + m;
        CHECK_RUN(run(grads), 2, "kind 'model'", "--force");
        CHECK(listing(m) == before);
        CHECK_RUN(run(grads + " --force"), 0, "gradients");
        CHECK(tg::checkpoint_kind(m) == "gradients");
        CHECK_RUN(run(grads), 0, "gradients");  // gradients over gradients: the same kind
        // and train over gradients is refused too
        CHECK_RUN(run(t.train + "--epochs 1 --out " + m), 2, "kind 'gradients'");
    }
    SUBCASE("a symbolic link at --out is written through and stays a link") {
        fs::create_directories(w.path / "real");
        fs::create_symlink(w.path / "real", w.path / "link");
        CHECK_RUN(run(t.train + "--epochs 1 --out " + w / "link"), 0, "saved");
        CHECK(fs::is_symlink(w.path / "link"));
        CHECK(tg::is_checkpoint_dir(w.path / "real"));
        CHECK_RUN(run(t.train + "--epochs 2 --resume " + w / "link" + " --out " + w / "link"), 0, "saved");
        CHECK(fs::is_symlink(w.path / "link"));
        CHECK(tg::read_text(w / "real/train_state.txt").find("epoch 2\n") != std::string::npos);
    }
    SUBCASE("a folder of the user's named like a staging folder is not removed") {
        fs::create_directories(w.path / "m.saving-4194000");
        tg::write_file_atomically(w / "m.saving-4194000/mine.txt", "mine\n");
        CHECK_RUN(run(t.train + "--epochs 1 --out " + w / "m"), 0, "saved");
        CHECK(tg::read_text(w / "m.saving-4194000/mine.txt") == "mine\n");
        // while tapegrad's own leftovers (marked) of a dead process are
        fs::create_directories(w.path / "m.saving-4194001");
        tg::write_file_atomically(w.path / "m.saving-4194001" / tg::kStagingMarker, "x");
        tg::write_file_atomically(w / "m.saving-4194001/a.npy", "x");
        CHECK_RUN(run(t.train + "--epochs 2 --resume " + w / "m" + " --out " + w / "m"), 0, "saved");
        CHECK(!fs::exists(w.path / "m.saving-4194001"));
        CHECK(fs::exists(w.path / "m.saving-4194000/mine.txt"));
    }
}

TEST_CASE("7, 8: what train accepts, its checkpoint loads: one tokeniser, one word limit") {
    Trained& t = trained();
    Workdir w;
    const std::string long_word(1001, 'x');
    tg::write_file_atomically(w / "long.tsv", "the dog\tle chien\na " + long_word + "\tun\n");
    CHECK_RUN(run("train --train " + w / "long.tsv" + " --valid " + t.w / "valid.tsv" + " --epochs 1 --out " + w / "m1"), 1,
              "long.tsv:2:3", "1001 bytes", "1000");
    CHECK(!fs::exists(w.path / "m1"));
    tg::write_file_atomically(w / "ok.tsv", "the dog\tle chien\na " + std::string(1000, 'x') + "\tun\n");
    CHECK_RUN(run("train --train " + w / "ok.tsv" + " --valid " + w / "ok.tsv" + " --epochs 1 --hidden 8 --emb 4 --attn 4 --out " +
                  w / "m2"), 0, "saved");
    CHECK_RUN(run("translate --checkpoint " + w / "m2", "the dog\n"), 0);
    // A CR ending the source side is white space, as everywhere: "dog", once.
    tg::write_file_atomically(w / "cr.tsv", "the dog\r\tle chien\nthe dog\tle chien\n");
    CHECK_RUN(run("train --train " + w / "cr.tsv" + " --valid " + w / "cr.tsv" + " --epochs 1 --hidden 8 --emb 4 --attn 4 --out " +
                  w / "m3"), 0, "saved");
    CHECK(tg::read_text(w / "m3/src.vocab").find('\r') == std::string::npos);
    CHECK_RUN(run("translate --checkpoint " + w / "m3", "the dog\n"), 0);
    CHECK_RUN(run("train --resume " + w / "m3" + " --train " + w / "cr.tsv" + " --valid " + w / "cr.tsv" + " --epochs 2 --out " +
                  w / "m3"), 0, "saved");
}

TEST_CASE("9, 22: --out DIR/. and DIR/ name the folder DIR, new or not") {
    Trained& t = trained();
    Workdir w;
    CHECK_RUN(run(t.train + "--epochs 1 --out " + w / "new/"), 0, "saved");
    CHECK(tg::is_checkpoint_dir(w.path / "new"));
    fs::create_directories(w.path / "empty");
    CHECK_RUN(run(t.train + "--epochs 1 --out " + w / "empty/."), 0, "saved");
    CHECK(tg::is_checkpoint_dir(w.path / "empty"));
    CHECK_RUN(run(t.train + "--epochs 2 --resume " + w / "empty/." + " --out " + w / "empty/."), 0, "saved");
    for (const auto& e : fs::directory_iterator(w.path / "empty"))  // no lock or staging folder landed inside
        CHECK_MESSAGE(tg::unknown_entries(w.path / "empty").empty(), e.path());
}

TEST_CASE("10, 22: out of memory in a training step is a one-line error with status 1, not an abort") {
    if (built_with_sanitizers()) {
        MESSAGE("skipped under the sanitizers: they reserve more address space than the limit");
        return;
    }
    Trained& t = trained();
    Workdir w;
    const Result r = run_shell("prlimit --as=1500000000 " + T() + " train " + t.data + "--epochs 1 --hidden 2000 --out " +
                               w / "big" + " 2>&1");
    CHECK_RUN(r, 1, "out of memory", "arena");
    CHECK_MESSAGE(r.output.find("terminate") == std::string::npos, r.output);
}

TEST_CASE("11: a checkpoint with a dimension of size 0 is refused as it loads") {
    Trained& t = trained();
    Workdir w;
    const std::string m = copy_model(w, "zero");
    fs::remove(fs::path(m) / tg::kCheckpointMarker);  // as weights exported by another framework
    tg::save_npy(fs::path(m) / "encoder.fwd.weight_hh.npy", tg::Tensor(tg::Shape{0, 0}));
    CHECK_RUN(run("grads --checkpoint " + m + " --data " + t.w / "valid.tsv" + " --out " + w / "g"), 1,
              "encoder.fwd.weight_hh.npy", "shape [0, 0]");
}

TEST_CASE("12: Ctrl-C during set-up stops at once; a second signal stops at once") {
    Trained& t = trained();
    Workdir w;
    for (const char* phase : {"reading the data", "building the model"}) {
        CAPTURE(phase);
        CHECK_RUN(run(t.train + "--epochs 1 --out " + w / "m", "", std::string("TAPEGRAD_SIGINT_IN_SETUP='") + phase + "'"), 130,
                  "stopped during set-up", "nothing saved");
        CHECK(!fs::exists(w.path / "m"));
        CHECK(!fs::exists(w.path / "m.lock"));  // nothing left behind
    }
    CHECK_RUN(run(t.train + "--epochs 1 --subwords 40 --out " + w / "m", "", "TAPEGRAD_SIGINT_IN_SETUP='learning subword pieces'"),
              130, "stopped during set-up");
    // A second signal while the first is being honoured (here: both at step 3): out at once, nothing
    // half-written, the last checkpoint as it was.
    const std::string m = copy_model(w, "ck");
    const std::string before = listing(m);
    CHECK_RUN(run(t.train + "--epochs 3 --resume " + m + " --out " + m, "", "TAPEGRAD_SIGINT_AT_STEP=22 TAPEGRAD_SIGTERM_AT_STEP=22"),
              143, "second signal");
    CHECK(listing(m) == before);
}

TEST_CASE("13, 14, 16, 17, 19, 22: resuming and stopping do what they say") {
    Trained& t = trained();
    Workdir w;
    SUBCASE("14: --resume A --out B where B holds another model: refused; with --force B becomes A's continuation") {
        const std::string a = copy_model(w, "A"), b = copy_model(w, "B");
        tg::write_file_atomically(w / "B/tgt.vocab", tg::read_text(w / "B/tgt.vocab"));  // (B stays a valid checkpoint)
        CHECK_RUN(run(t.train + "--epochs 2 --resume " + a + " --out " + b), 2, "holds a trained model");
        const Result r = run(t.train + "--epochs 2 --resume " + a + " --out " + b + " --force");
        const std::string summary = "checkpoint in " + b + "/";
        CHECK_RUN(r, 0, summary.c_str());
        CHECK(tg::read_text(w / "B/train_state.txt").find("epoch 2\n") != std::string::npos);
        CHECK(!fs::exists(w.path / "B" / "last"));
    }
    SUBCASE("16: --resume finds DIR.old") {
        copy_model(w, "m");
        fs::rename(w.path / "m", w.path / "m.old");
        CHECK_RUN(run(t.train + "--epochs 2 --resume " + w / "m" + " --out " + w / "m"), 0, "resuming", "saved");
        CHECK(tg::is_checkpoint_dir(w.path / "m"));
        CHECK(!fs::exists(w.path / "m.old"));
    }
    SUBCASE("17: a changed training file is an error unless asked for") {
        const std::string m = copy_model(w, "m");
        const std::string lines = tg::read_text(t.w / "train.tsv");
        const std::string cut = lines.substr(0, lines.find('\n', lines.size() / 3) + 1);
        tg::write_file_atomically(w / "shrunk.tsv", cut);
        const std::string resume = "train --train " + w / "shrunk.tsv" + " --valid " + t.w / "valid.tsv" +
                                   " --epochs 2 --resume " + m + " --out " + m;
        CHECK_RUN(run(resume), 2, "--train", "not the file", "--new-data");
        const Result r = run(resume + " --new-data");
        CHECK_RUN(r, 0, "new data", "epoch   2.00");
    }
    SUBCASE("19: validation pairs obey --max-len") {
        std::string long_side;
        for (int i = 0; i < 300; ++i) long_side += "a ";
        tg::write_file_atomically(w / "valid.tsv", tg::read_text(t.w / "valid.tsv") + long_side + "\tb\n");
        const Result r = run("train --train " + t.w / "train.tsv" + " --valid " + w / "valid.tsv" +
                             " --emb 8 --hidden 16 --attn 8 --epochs 1 --max-len 50 --out " + w / "m");
        CHECK_RUN(r, 0, "1 validation pairs with a side longer than --max-len 50 are not scored");
    }
    SUBCASE("22: messages say what and where") {
        CHECK_RUN(run(t.train + "--epochs 2 --resume " + w / "nowhere" + " --out " + w / "nowhere"), 2,
                  "--resume", "no such checkpoint folder");
        CHECK_RUN(run("train " + t.data + "--epochs 1 --hidden 100000 --out " + w / "big"), 2, "80%");
        CHECK_RUN(run(t.train + "--epochs 1 --subwords 1 --out " + w / "sw"), 2, "--subwords 1", "too few", "at least");
        CHECK(!fs::exists(w.path / "sw"));
    }
}

TEST_CASE("13: a stop during validation ends it at once and saves the last step's state") {
    // Through train() (the hooks): stop requested once the epoch's last step is done, i.e. while the
    // epoch's validation runs.
    Trained& t = trained();
    Workdir w;
    translator::TrainOptions o;
    o.train = t.w.path / "train.tsv";
    o.valid = t.w.path / "valid.tsv";
    o.out = w.path / "m";
    o.emb = 8, o.hidden = 16, o.attn = 8, o.batch = 16, o.epochs = 3;
    translator::TrainHooks hooks;
    bool epoch_done = false;
    std::int64_t steps = 0;
    int validations = 0;
    hooks.progress = [&](const translator::TrainProgress& p) {
        epoch_done = p.epoch_fraction >= 1.0;
        steps = p.step;
    };
    hooks.stop_requested = [&] { return epoch_done; };
    std::vector<translator::EpochReport> reports;
    hooks.epoch_end = [&](const translator::EpochReport& e) {
        ++validations;
        reports.push_back(e);
    };
    const translator::TrainResult r = translator::train(o, hooks);
    CHECK(r.stop_reason == "stopped");
    CHECK(r.steps == steps);  // no step after the stop
    REQUIRE(validations == 1);  // and no second validation
    CHECK(!reports[0].validated);
    CHECK(reports[0].saved);
    CHECK(tg::read_text(o.out / "train_state.txt").find(fmt::format("step {}\n", steps)) != std::string::npos);
    CHECK(translator::epoch_line(reports[0]).find("validation stopped part way") != std::string::npos);
    // The command line says so too (step 19 ends the first epoch of this data, its validation begins).
    CHECK_RUN(run(t.train + "--epochs 2 --out " + w / "cli", "", "TAPEGRAD_SIGTERM_AT_STEP=19"), 143,
              "validation stopped part way", "no validation finished", "after 19 steps");
    CHECK(tg::read_text(w / "cli/train_state.txt").find("step 19\n") != std::string::npos);
}

TEST_CASE("15: every save writes a marker of its own, so a reader can tell two saves of the same shapes apart") {
    // A reader compares the folder (device, inode) and its marker before and after it reads. Two saves
    // swapped in while it reads can leave a folder that reuses the first one's inode: only a marker
    // that differs between saves of the same shapes tells them apart (under the sanitizers test 15
    // below once read a mix this way).
    Workdir w;
    tg::Generator gen(1);
    tg::Linear m(8, 8, gen);
    tg::save_checkpoint(w.path / "ck", m);
    const tg::CheckpointSnapshot first = tg::checkpoint_snapshot(w.path / "ck");
    tg::save_checkpoint(w.path / "ck", m);
    const tg::CheckpointSnapshot second = tg::checkpoint_snapshot(w.path / "ck");
    CHECK(!first.marker.empty());
    CHECK(first.marker != second.marker);
    tg::load_checkpoint(w.path / "ck", m);  // the marker's new line is read as before
}

TEST_CASE("15: a reader sees one complete save while a writer saves into the same folder") {
    Workdir w;
    tg::Generator gen(1);
    tg::Linear written(64, 64, gen), read(64, 64, gen);
    std::atomic<bool> done{false};
    std::atomic<int> saves{0};
    std::thread writer([&] {
        for (int k = 0; !done && k < 100000; ++k) {
            for (tg::Parameter* p : {&written.weight, &written.bias})
                std::fill(p->value().data(), p->value().data() + p->value().numel(), static_cast<float>(k));
            tg::save_checkpoint(w.path / "ck", written);
            ++saves;
        }
    });
    while (saves == 0) std::this_thread::yield();
    int mixed = 0;
    for (int i = 0; i < 300; ++i) {
        tg::load_checkpoint(w.path / "ck", read);  // never throws "no longer belong together", never mixes
        const float k = read.weight.value().data()[0];
        mixed += read.bias.value().data()[0] != k || read.weight.value().data()[read.weight.value().numel() - 1] != k;
    }
    done = true;
    writer.join();
    CHECK(mixed == 0);
    MESSAGE(saves.load() << " saves while 300 loads ran");
    CHECK(saves > 1);
}

TEST_CASE("18, 20: stdin is held to what files are: valid UTF-8, lines of at most 100,000 bytes, read no further") {
    Trained& t = trained();
    Workdir w;
    tg::write_file_atomically(w / "bad.txt", "the dog\nthe \xff dog\n");
    CHECK_RUN(run("translate --checkpoint " + t.model + " < " + w / "bad.txt"), 1, "stdin:2:5", "invalid UTF-8");
    // A 60 MB line: refused as its limit is passed, in little memory (it was read whole before: 2.2 GB
    // for 100 MB).
    {
        std::ofstream out(w / "line.txt", std::ios::binary);
        const std::string chunk(1 << 20, 'a');
        std::string words;
        for (std::size_t i = 0; i < chunk.size(); i += 2) words += "a ";
        for (int i = 0; i < 60; ++i) out << words;
    }
    tg::write_file_atomically(w / "short.txt", "the dog\n");
    const Measured base = run_measured(T() + " translate --checkpoint " + t.model + " < " + w / "short.txt" + " > /dev/null 2>&1");
    const Measured m = run_measured(T() + " translate --checkpoint " + t.model + " < " + w / "line.txt" + " > /dev/null 2>&1");
    CHECK(base.status == 0);
    CHECK(m.status == 1);
    MESSAGE("translate: peak " << base.peak_mb << " MB on one short line, " << m.peak_mb << " MB on a 60 MB line");
    if (!built_with_sanitizers()) CHECK(m.peak_mb - base.peak_mb < 20);  // (ASan's quarantine keeps what is freed)
    CHECK_RUN(run("translate --checkpoint " + t.model + " < " + w / "line.txt"), 1, "stdin:1", "more than 100001 bytes");
    // NaN weights are refused as the model loads, naming the file.
    const std::string nan = copy_model(w, "nan");
    tg::Tensor weight = tg::load_npy(fs::path(nan) / "output.weight.npy");
    weight.data()[3] = std::nanf("");
    tg::save_npy(fs::path(nan) / "output.weight.npy", weight);
    CHECK_RUN(run("translate --checkpoint " + nan, "the dog\n"), 1, "output.weight.npy", "not finite");
}

TEST_CASE("21: eval streams its file: memory does not grow with the number of lines, and chunks change no answer") {
    Trained& t = trained();
    Workdir w;
    const std::string pairs = tg::read_text(t.w / "train.tsv");  // 300 lines
    auto repeated = [&](int times) {
        std::string s;
        for (int i = 0; i < times; ++i) s += pairs;
        return s;
    };
    tg::write_file_atomically(w / "small.tsv", repeated(20));   // 6,000 lines
    tg::write_file_atomically(w / "large.tsv", repeated(200));  // 60,000 lines: ~30 chunks
    const std::string eval = T() + " eval --checkpoint " + t.model + " --data ";
    const Measured small = run_measured(eval + w / "small.tsv" + " --out-hyp " + w / "small.hyp > /dev/null 2>&1");
    const Measured large = run_measured(eval + w / "large.tsv" + " --out-hyp " + w / "large.hyp > /dev/null 2>&1");
    REQUIRE(small.status == 0);
    REQUIRE(large.status == 0);
    MESSAGE("eval peak memory: " << small.peak_mb << " MB for 6,000 lines, " << large.peak_mb << " MB for 60,000");
    if (!built_with_sanitizers())  // (ASan's quarantine keeps freed memory: resident memory grows with work there)
        CHECK(large.peak_mb - small.peak_mb < 10);  // holding the file took ~46x its size: +130 MB here
    // Every copy of a line has the same translation, wherever the chunks were cut.
    std::istringstream hyps(tg::read_text(w / "large.hyp"));
    std::vector<std::string> lines;
    for (std::string l; std::getline(hyps, l);) lines.push_back(l);
    REQUIRE(lines.size() == 60000);
    int differ = 0;
    for (std::size_t i = 300; i < lines.size(); ++i) differ += lines[i] != lines[i % 300];
    CHECK(differ == 0);
    CHECK(tg::read_text(w / "small.hyp") == std::accumulate(lines.begin(), lines.begin() + 6000, std::string(),
                                                            [](std::string a, const std::string& b) { return a + b + "\n"; }));
}
