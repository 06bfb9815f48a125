// Checkpoints: a directory holding one "<parameter name>.npy" per parameter (float32, C order,
// readable by numpy.load), the optimizer's state under optimizer/, and whatever text files the
// program adds (vocabularies, a config).
//
// Saving never destroys the last good checkpoint: everything is written and flushed into a staging
// directory beside the target, which is then swapped in with one atomic rename. Loading is strict:
// every parameter must have its file with its exact shape, no unexpected .npy file may be there,
// and nothing in the model changes unless everything loaded.
//
// A checkpoint identifies itself: tapegrad-checkpoint.txt names the format and, for every file
// saved at the top of the folder, its shape (.npy) or a hash of its contents (text, such as a
// vocabulary), with a fingerprint over them all. Loading checks them, so files that no longer
// belong together (a vocabulary edited or swapped with another model's) are refused; a folder
// without the marker (weights exported by another framework) loads as before. Only a folder with
// the marker (or an empty one) is ever replaced by a save: anything else is a user's folder.
#pragma once
#include <filesystem>
#include <string>
#include <vector>

#include "io/npy.hpp"
#include "layers/module.hpp"
#include "optim/optimizer.hpp"

namespace tg {

class CheckpointWriter {
public:
    explicit CheckpointWriter(std::filesystem::path dir);  // starts a fresh staging directory
    ~CheckpointWriter();                                   // an uncommitted save is discarded
    CheckpointWriter(const CheckpointWriter&) = delete;
    CheckpointWriter& operator=(const CheckpointWriter&) = delete;

    void add_tensor(const std::string& name, const Tensor& t);  // writes <name>.npy ('/' makes subfolders)
    void add_text(const std::string& filename, const std::string& content);
    // Publishes the checkpoint: after commit() returns, `dir` holds exactly what was added.
    void commit();

private:
    std::filesystem::path dir_, staging_;
    bool committed_ = false;
    std::vector<std::string> entries_;  // the marker's lines for the top-level files
};

// The marker file's name, and whether `dir` is a folder a save may replace: it holds the marker,
// or it is empty. (A regular file, or a folder of the user's own, is neither.)
inline constexpr const char* kCheckpointMarker = "tapegrad-checkpoint.txt";
bool is_checkpoint_dir(const std::filesystem::path& dir);
bool is_replaceable_dir(const std::filesystem::path& dir);

// Where a checkpoint is read from: `dir`, or `dir.old` where an interrupted save's fallback path
// (no atomic exchange on the file system) left the previous one. Throws FileError if neither exists.
std::filesystem::path checkpoint_dir_to_read(const std::filesystem::path& dir);

// Checks the files listed in dir's marker (shapes, contents); throws FileError naming the first that
// differs from what was saved. A folder without a marker passes. Returns the fingerprint ("" if none).
std::string verify_checkpoint(const std::filesystem::path& dir);

// An exclusive lock on a checkpoint path for one writer: a second process (or a second lock in this
// one) asking for the same path fails at once with FileError naming the holder's process id. The
// lock file is DIR.lock beside the folder, since the folder itself is swapped at every save; it is
// removed when the lock is released.
class CheckpointLock {
public:
    explicit CheckpointLock(const std::filesystem::path& dir);
    ~CheckpointLock();
    CheckpointLock(const CheckpointLock&) = delete;
    CheckpointLock& operator=(const CheckpointLock&) = delete;

private:
    std::filesystem::path path_;
    int fd_ = -1;
};

void save_module(CheckpointWriter& w, const Module& m);
void save_optimizer(CheckpointWriter& w, Optimizer& opt);  // optimizer/optimizer.txt + optimizer/<state>.npy

// Throws FileError naming the missing file, the wrong shape, or the invalid .npy.
void load_module(const std::filesystem::path& dir, Module& m);
void load_optimizer(const std::filesystem::path& dir, Optimizer& opt);

// A whole checkpoint in one call: the module and (if given) the optimizer.
void save_checkpoint(const std::filesystem::path& dir, const Module& m, Optimizer* opt = nullptr);
void load_checkpoint(const std::filesystem::path& dir, Module& m, Optimizer* opt = nullptr);

}  // namespace tg
