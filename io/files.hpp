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

// A testing hook for interruption: each step of a save (a file written, flushed, renamed; a
// checkpoint swapped in) calls crash_point(). With TAPEGRAD_CRASH_AT=N in the environment, the
// N-th call kills the process with SIGKILL, so tests can interrupt a save at every step and check
// that the last good checkpoint survives (tests/test_interrupt.cpp). Without it, it does nothing.
void crash_point();

// A testing hook for failure: with TAPEGRAD_FAIL_SAVE_AT=N in the environment, the N-th checkpoint
// save fails (CheckpointWriter::commit throws FileError before publishing anything), so tests can
// check that a failed save is reported as failed. Without it, it returns false.
bool save_should_fail();

// A testing hook for file systems without an atomic exchange (overlayfs, some network file systems):
// with TAPEGRAD_NO_EXCHANGE set, a checkpoint save (and its probe) takes the fallback path, moving the
// previous checkpoint to DIR.old and the new one into place, as it must where renameat2 fails.

}  // namespace tg
