// Checking where the translator will write, before any long work starts: a user's files are never
// replaced by accident, and an unwritable location fails at once, not after an epoch of training.
#pragma once
#include <filesystem>
#include <string>
#include <vector>

namespace translator {

// A checkpoint folder given with `option` (--out): a new path, an empty folder, or a tapegrad
// checkpoint folder of the same `kind` (replaced atomically by saves; "DIR/", "DIR/." and a symbolic
// link to a folder all name the folder). Refused with UsageError (exit 2) naming the option: a
// regular file, a folder of other files, a checkpoint of another kind (unless `force`), a checkpoint
// holding files tapegrad did not write, the current folder or one holding it, a folder holding one of
// `inputs`, a DIR.old of the user's, a location that cannot be written, or a file system on which a
// save could not publish (tried now: probe_checkpoint_save).
void check_checkpoint_output(const std::filesystem::path& dir, const char* option,
                             const std::vector<std::filesystem::path>& inputs, const std::string& kind, bool force);

// A file given with `option` (--svg, --csv, --out-hyp, ...): written atomically, so it may exist as a
// regular file, but it must not be a folder, one of `inputs` (by any name: the same device and inode,
// or the same resolved path), inside an input folder (a checkpoint being read) or inside any tapegrad
// checkpoint folder (saves replace those as a whole), and its folder must be writable.
void check_file_output(const std::filesystem::path& file, const char* option,
                       const std::vector<std::filesystem::path>& inputs);

// Whether two paths name the same file: the same device and inode if both exist, else the same
// resolved path ("logs/h.txt" and "logs/./h.txt", or through a symbolic link).
bool same_file(const std::filesystem::path& a, const std::filesystem::path& b);

}  // namespace translator
