// Running the translator as a user would, for the command-line tests: its exit status and output.
#pragma once
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <algorithm>
#include <filesystem>
#include <vector>

#include "io/files.hpp"
#include <string>

#include "helpers.hpp"

namespace tg::test {

struct Result {
    int status = -1;
    std::string output;  // stdout and stderr together
};

// Runs a whole shell command, its redirections as written; the output is what it writes to the pipe.
inline Result run_shell(const std::string& command) {
    Result r;
    FILE* p = popen(command.c_str(), "r");
    REQUIRE(p != nullptr);
    char buf[4096];
    for (std::size_t n; (n = std::fread(buf, 1, sizeof buf, p)) > 0;) r.output.append(buf, n);
    const int st = pclose(p);
    r.status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
    return r;
}

// Runs `translator ARGS` through the shell (ARGS may hold redirections), with `stdin_text` on stdin.
// With `env` ("NAME=value ..."), those variables are set for the translator only, and the translator
// is its test build (translator-faults), whose fault hooks read them (tests/fault_injection.cpp).
// With `cwd`, it runs in that folder.
inline Result run(const std::string& args, const std::string& stdin_text = "", const std::string& env = "",
                  const std::string& cwd = "") {
    std::string cmd = (cwd.empty() ? "" : "cd '" + cwd + "' && ") + (env.empty() ? "" : "env " + env + " ") +
                      std::string(env.empty() ? TG_TRANSLATOR : TG_TRANSLATOR_FAULTS) + " " + args + " 2>&1";
    if (!stdin_text.empty()) cmd = "printf '%s' '" + stdin_text + "' | " + cmd;
    return run_shell(cmd);
}

// A fresh temporary folder for one test, removed afterwards.
struct Workdir {
    std::filesystem::path path;
    Workdir() {
        static std::atomic<int> counter{0};
        path = std::filesystem::temp_directory_path() /
               ("tapegrad-cli-" + std::to_string(::getpid()) + "-" + std::to_string(counter++));
        std::filesystem::remove_all(path);
        std::filesystem::create_directories(path);
    }
    ~Workdir() { std::filesystem::remove_all(path); }
    std::string operator/(const std::string& name) const { return (path / name).string(); }
};

// A small task and a model trained on it for one epoch (a few seconds), shared by the tests.

struct Trained {
    Workdir w;
    std::string data, train, model;  // data: --train and --valid; train: a whole `train` command but --out
    Trained() {
        const std::string gen = "generate --task local --min-len 1 --max-len 8 ";
        REQUIRE(run(gen + "--n 300 --seed 1 --split train --out " + w / "train").status == 0);
        REQUIRE(run(gen + "--n 30 --seed 2 --split valid --out " + w / "valid").status == 0);
        data = "--train " + w / "train.tsv" + " --valid " + w / "valid.tsv" + " ";
        train = "train " + data + "--emb 8 --hidden 16 --attn 8 --batch 16 --seed 3 ";
        model = w / "model";
        REQUIRE(run(train + "--epochs 1 --out " + model).status == 0);
    }
};

inline Trained& trained() {  // one for the whole suite
    static Trained t;
    return t;
}

// A copy of the suite's trained model in `w`, as `name`.
inline std::string copy_model(const Workdir& w, const std::string& name) {
    std::filesystem::copy(trained().model, w.path / name, std::filesystem::copy_options::recursive);
    return w / name;
}

inline std::string listing(const std::filesystem::path& dir) {  // names and contents of every file under dir
    std::string s;
    std::vector<std::filesystem::path> files;
    for (const auto& e : std::filesystem::recursive_directory_iterator(dir)) files.push_back(e.path());
    std::sort(files.begin(), files.end());
    for (const auto& f : files) s += f.string() + (std::filesystem::is_regular_file(f) ? ":" + tg::read_text(f) : "/") + "\n";
    return s;
}


#define CHECK_RUN(result, expected_status, ...)                                                         \
    do {                                                                                                \
        const ::tg::test::Result& r_ = (result);                                                        \
        CHECK_MESSAGE(r_.status == (expected_status), r_.output);                                       \
        for (const char* part_ : std::initializer_list<const char*>{__VA_ARGS__})                        \
            CHECK_MESSAGE(r_.output.find(part_) != std::string::npos, "'" << part_ << "' not in: " << r_.output); \
    } while (0)

}  // namespace tg::test
