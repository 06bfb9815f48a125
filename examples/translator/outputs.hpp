// Checking where the translator will write, before any long work starts: a user's files are never
// replaced by accident, and an unwritable location fails at once, not after an epoch of training.
#pragma once
#include <filesystem>
#include <vector>

namespace translator {

// A checkpoint folder given with `option` (--out): a new path, an empty folder, or a tapegrad
// checkpoint folder (replaced atomically by saves). Refused with UsageError (exit 2) naming the
// option: a regular file, a folder of other files, the current folder or one holding it, a folder
// holding one of `inputs`, or a location that cannot be written.
void check_checkpoint_output(const std::filesystem::path& dir, const char* option,
                             const std::vector<std::filesystem::path>& inputs);

// A file given with `option` (--svg, --csv, --out-hyp, ...): written atomically, so it may exist as a
// regular file, but it must not be a folder or one of `inputs`, and its folder must be writable.
void check_file_output(const std::filesystem::path& file, const char* option,
                       const std::vector<std::filesystem::path>& inputs);

}  // namespace translator
