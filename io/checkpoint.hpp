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
//
// What a save may remove is only ever what tapegrad wrote and marked: the files and folders the
// marker lists, nested checkpoints (the translator's last/), and staging folders of killed saves
// (which carry kStagingMarker). Anything else found inside a checkpoint folder at a save (a user's
// notes, a translation written there) is kept: hard-linked into the new checkpoint before it is
// swapped in. A checkpoint path that is a symbolic link is written through: the link stays.
#pragma once
#include <filesystem>
#include <string>
#include <vector>

#include "npy.hpp"
#include "../layers/module.hpp"
#include "../optim/optimizer.hpp"

namespace tg {

class CheckpointWriter {
public:
    // Starts a fresh staging directory beside `dir`. `kind` names what the checkpoint holds ("model",
    // "gradients", ...): a save over a checkpoint of another kind throws FileError, unless
    // `replace_other_kind` (a user's --force).
    explicit CheckpointWriter(std::filesystem::path dir, std::string kind = "model", bool replace_other_kind = false);
    ~CheckpointWriter();                                   // an uncommitted save is discarded
    CheckpointWriter(const CheckpointWriter&) = delete;
    CheckpointWriter& operator=(const CheckpointWriter&) = delete;

    void add_tensor(const std::string& name, const Tensor& t);  // writes <name>.npy ('/' makes subfolders)
    void add_text(const std::string& filename, const std::string& content);
    // Publishes the checkpoint: after commit() returns, `dir` holds exactly what was added.
    void commit();

private:
    std::filesystem::path dir_, staging_;
    std::string kind_;
    bool committed_ = false;
    std::vector<std::string> entries_;  // the marker's lines for the top-level files
    std::vector<std::string> folders_;  // the top-level folders written (optimizer/, ...)
};

// The marker file's name, and whether `dir` is a folder a save may replace: it holds the marker,
// or it is empty. (A regular file, or a folder of the user's own, is neither.)
inline constexpr const char* kCheckpointMarker = "tapegrad-checkpoint.txt";
// The file a staging folder holds until it is complete: what marks it as tapegrad's to clean up.
inline constexpr const char* kStagingMarker = "tapegrad-staging.txt";
bool is_checkpoint_dir(const std::filesystem::path& dir);
bool is_replaceable_dir(const std::filesystem::path& dir);

// A checkpoint path as saves use it: "DIR/", "DIR/." and "./DIR" are DIR, and a symbolic link is
// followed to the folder it names (so saves write through it and the link stays).
std::filesystem::path checkpoint_path(const std::filesystem::path& dir);

// What the checkpoint in `dir` holds, as its marker says ("model", "gradients"; "" without one).
// Markers written before kinds existed: "model" if they list src.vocab or a parameter file.
std::string checkpoint_kind(const std::filesystem::path& dir);

// The entries of a checkpoint folder that tapegrad did not write: not the marker, not a file or
// folder it lists, not a nested checkpoint or a staging folder or lock of one. Sorted.
std::vector<std::string> unknown_entries(const std::filesystem::path& dir);

// The fallback save moves the previous checkpoint to DIR.old: a DIR.old that is not a checkpoint (a
// user's file or folder) must never be removed, so a save there is refused. Throws FileError naming it.
void check_old_is_ours(const std::filesystem::path& dir);

// Tries, before any long work, the renames a save at `dir` will make, so that a file system that
// cannot make them (overlayfs cannot rename a folder of a lower layer: EXDEV) fails now, not after
// an epoch of training. Moves nothing of the user's: an empty folder is exchanged with `dir` and back
// (were the process killed in between, `dir` would be empty and its checkpoint at DIR.old, where
// loading and the next save find it). Throws FileError naming the folder and the system's reason, or
// a DIR.old of the user's (check_old_is_ours).
void probe_checkpoint_save(const std::filesystem::path& dir);

// Where a checkpoint is read from: `dir`, or `dir.old` where an interrupted save's fallback path
// (no atomic exchange on the file system) left the previous one while `dir` is missing or empty.
// Throws FileError if neither exists.
std::filesystem::path checkpoint_dir_to_read(const std::filesystem::path& dir);

// A reader sees one complete save, even while a training saves into the same folder: `read(dir)`
// is run again when the folder was swapped (or its marker changed) while it ran, so files of two
// saves are never mixed. A FileError from a read during which nothing changed is the answer.
struct CheckpointSnapshot {
    unsigned long long device = 0, inode = 0;
    std::string marker;
    bool operator==(const CheckpointSnapshot&) const = default;
};
CheckpointSnapshot checkpoint_snapshot(const std::filesystem::path& dir);
template <class Read>
auto read_consistently(const std::filesystem::path& dir, Read&& read) {
    for (int attempt = 1;; ++attempt) {
        const CheckpointSnapshot before = checkpoint_snapshot(dir);
        try {
            auto result = read(dir);
            if (checkpoint_snapshot(dir) == before) return result;
        } catch (const FileError&) {
            if (attempt >= 50 || checkpoint_snapshot(dir) == before) throw;
        }
        if (attempt >= 50) throw FileError(dir.string() + ": changed by another process at every one of 50 reads");
    }
}

// Checks the files listed in dir's marker (shapes, contents); throws FileError naming the first that
// differs from what was saved. A folder without a marker passes. Returns the fingerprint ("" if none).
std::string verify_checkpoint(const std::filesystem::path& dir);

// An exclusive lock on a checkpoint path for one writer: a second process (or a second lock in this
// one) asking for the same path fails at once with FileError naming the holder's process id. The
// lock file is DIR.lock beside the folder, since the folder itself is swapped at every save; it is
// removed when the lock is released. A DIR.lock that tapegrad did not write (a user's file, a
// symbolic link, a folder) is never opened for writing, truncated or removed: the lock is refused.
class CheckpointLock {
public:
    explicit CheckpointLock(const std::filesystem::path& dir);
    static std::filesystem::path path_for(const std::filesystem::path& dir);  // DIR.lock
    // Whether DIR.lock is still the file this lock made: removed by hand (or by a cleanup script), or
    // replaced, another writer may hold the folder now. check_held() throws FileError saying so;
    // a save calls it first and never replaces a checkpoint it no longer holds.
    bool held() const;
    void check_held() const;
    ~CheckpointLock();  // removes DIR.lock, if it is still this lock's
    CheckpointLock(const CheckpointLock&) = delete;
    CheckpointLock& operator=(const CheckpointLock&) = delete;

private:
    void release_fd();
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
