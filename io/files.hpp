// Reading and writing whole files safely: a write goes to a temporary name, is flushed to disk
// and renamed over the target, so an interrupted write leaves the old file or the new one, never
// a mixture. Errors are FileErrors that name the file.
#pragma once
#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>

#include "../autograd/error.hpp"

namespace tg {

// A file that cannot be read or written, or whose contents are invalid; what() names the file
// (and the line and column where that makes sense: "data.tsv:12:7: no tab").
struct FileError : Error {
    using Error::Error;
};

std::string read_text(const std::filesystem::path& path);

// What a file (or a client) holds, fit to quote in a one-line message: control characters and
// escape sequences shown as '?', never sent to the terminal; at most `max` bytes, then "...".
std::string printable(std::string_view text, std::size_t max = 80);

// FNV-1a, 64 bits, of `bytes` (continuing from `h`): what checkpoints and training states use to
// tell whether a file is the one they were saved with; a fingerprint against mistakes, not forgery.
std::uint64_t fnv1a(std::string_view bytes, std::uint64_t h = 0xcbf29ce484222325ull);
void write_file_atomically(const std::filesystem::path& path, const std::string& content);

// The same, written piece by piece (a file too large to hold: eval's translations of a long file):
// write() appends to a temporary name of this process's own, commit() flushes it to disk and renames
// it over `path`. Destroyed without commit(), the temporary file is removed and `path` is untouched.
class AtomicFile {
public:
    explicit AtomicFile(std::filesystem::path path);
    ~AtomicFile();
    AtomicFile(const AtomicFile&) = delete;
    AtomicFile& operator=(const AtomicFile&) = delete;
    void write(std::string_view bytes);
    void commit();

private:
    std::filesystem::path path_, tmp_;
    int fd_ = -1;
};
void fsync_path(const std::filesystem::path& path);  // makes a directory's new entries durable

// Fault injection, for tests only. The library calls these hooks at each step of a save (a file
// written, flushed, renamed; a checkpoint swapped in), before publishing a checkpoint, and when it
// chooses how to publish one. All are null, and so do nothing, unless a test program sets them
// (tests/fault_injection.cpp, linked into the test build of the translator only): tests kill a save
// at every step, fail one, or publish as on overlayfs, and no shipped program reads anything for them.
struct FaultHooks {
    void (*save_step)() = nullptr;    // at each step of a save: a test may kill the process here
    bool (*fail_save)() = nullptr;    // true: this checkpoint save fails before publishing anything
    bool (*no_exchange)() = nullptr;  // true: publish as on a file system without an atomic exchange
};
FaultHooks& fault_hooks();
inline void crash_point() {
    if (fault_hooks().save_step) fault_hooks().save_step();
}

}  // namespace tg
