#include "outputs.hpp"

#include <fmt/format.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "args.hpp"
#include "io/checkpoint.hpp"

namespace translator {

namespace fs = std::filesystem;

namespace {

fs::path absolute_clean(const fs::path& p) {
    std::error_code ec;
    fs::path c = fs::weakly_canonical(fs::absolute(p), ec);
    return ec ? fs::absolute(p).lexically_normal() : c;
}

// Whether `inner` is `outer` or lies inside it.
bool within(const fs::path& inner, const fs::path& outer) {
    auto i = inner.begin();
    for (auto o = outer.begin(); o != outer.end(); ++o, ++i) {
        if (o->empty()) continue;  // a trailing separator
        if (i == inner.end() || *i != *o) return false;
    }
    return true;
}

void check_writable(const fs::path& dir, const fs::path& given, const char* option) {
    if (::access(dir.c_str(), W_OK | X_OK) != 0)
        throw UsageError(fmt::format("{} {}: cannot write in {}: {}", option, given.string(), dir.string(), std::strerror(errno)));
}

fs::path parent_of(const fs::path& abs) { return abs.has_parent_path() ? abs.parent_path() : fs::path("/"); }

}  // namespace

void check_checkpoint_output(const fs::path& dir, const char* option, const std::vector<fs::path>& inputs) {
    if (dir.empty()) throw UsageError(fmt::format("{}: an empty path", option));
    const fs::path abs = absolute_clean(dir);
    if (within(absolute_clean(fs::current_path()), abs))
        throw UsageError(fmt::format("{} {}: the current folder, or a folder holding it, cannot be replaced by a checkpoint; "
                                     "name a new folder", option, dir.string()));
    for (const fs::path& in : inputs)
        if (!in.empty() && within(absolute_clean(in), abs))
            throw UsageError(fmt::format("{} {}: {} the input {}; a checkpoint saved there would delete it", option,
                                         dir.string(), absolute_clean(in) == abs ? "is" : "holds", in.string()));
    std::error_code ec;
    const auto status = fs::symlink_status(dir, ec);
    if (fs::exists(status)) {
        if (!fs::is_directory(fs::status(dir, ec)))
            throw UsageError(fmt::format("{} {}: exists and is not a folder; refusing to replace it with a checkpoint",
                                         option, dir.string()));
        if (!tg::is_replaceable_dir(dir))
            throw UsageError(fmt::format("{} {}: a folder that is neither empty nor a tapegrad checkpoint (no {}); refusing "
                                         "to replace it: name a new folder (a checkpoint saved before checkpoints carried "
                                         "{} can be resumed with a new --out)", option, dir.string(), tg::kCheckpointMarker,
                                         tg::kCheckpointMarker));
        check_writable(abs, dir, option);  // a folder is swapped by rename: it needs write permission too
    }
    const fs::path parent = parent_of(abs);
    if (!fs::is_directory(parent))
        throw UsageError(fmt::format("{} {}: the folder {} does not exist", option, dir.string(), parent.string()));
    check_writable(parent, dir, option);
}

void check_file_output(const fs::path& file, const char* option, const std::vector<fs::path>& inputs) {
    if (file.empty() || file.filename().empty()) throw UsageError(fmt::format("{} '{}': not a file name", option, file.string()));
    const fs::path abs = absolute_clean(file);
    for (const fs::path& in : inputs)
        if (!in.empty() && absolute_clean(in) == abs)
            throw UsageError(fmt::format("{} {}: is the input file; writing it would destroy it", option, file.string()));
    if (fs::is_directory(file)) throw UsageError(fmt::format("{} {}: is a folder, not a file", option, file.string()));
    const fs::path parent = parent_of(abs);
    if (!fs::is_directory(parent))
        throw UsageError(fmt::format("{} {}: the folder {} does not exist", option, file.string(), parent.string()));
    check_writable(parent, file, option);
}

}  // namespace translator
