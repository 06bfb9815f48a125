// Running the translator as a user would, for the command-line tests: its exit status and output.
#pragma once
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <filesystem>
#include <string>

#include "helpers.hpp"

namespace tg::test {

struct Result {
    int status = -1;
    std::string output;  // stdout and stderr together
};

// Runs `translator ARGS` through the shell (ARGS may hold redirections), with `stdin_text` on stdin.
// With `env` ("NAME=value ..."), those variables are set for the translator only.
// With `cwd`, it runs in that folder.
inline Result run(const std::string& args, const std::string& stdin_text = "", const std::string& env = "",
                  const std::string& cwd = "") {
    std::string cmd = (cwd.empty() ? "" : "cd '" + cwd + "' && ") + (env.empty() ? "" : "env " + env + " ") +
                      std::string(TG_TRANSLATOR) + " " + args + " 2>&1";
    if (!stdin_text.empty()) cmd = "printf '%s' '" + stdin_text + "' | " + cmd;
    Result r;
    FILE* p = popen(cmd.c_str(), "r");
    REQUIRE(p != nullptr);
    char buf[4096];
    for (std::size_t n; (n = std::fread(buf, 1, sizeof buf, p)) > 0;) r.output.append(buf, n);
    const int st = pclose(p);
    r.status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
    return r;
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

#define CHECK_RUN(result, expected_status, ...)                                                         \
    do {                                                                                                \
        const ::tg::test::Result& r_ = (result);                                                        \
        CHECK_MESSAGE(r_.status == (expected_status), r_.output);                                       \
        for (const char* part_ : std::initializer_list<const char*>{__VA_ARGS__})                        \
            CHECK_MESSAGE(r_.output.find(part_) != std::string::npos, "'" << part_ << "' not in: " << r_.output); \
    } while (0)

}  // namespace tg::test
