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

bool same_file(const fs::path& a, const fs::path& b) {
    std::error_code ec;
    if (fs::exists(a, ec) && fs::exists(b, ec)) return fs::equivalent(a, b, ec) && !ec;
    return absolute_clean(a) == absolute_clean(b);
}

void check_checkpoint_output(const fs::path& given, const char* option, const std::vector<fs::path>& inputs,
                             const std::string& kind, bool force) {
    if (given.empty()) throw UsageError(fmt::format("{}: an empty path", option));
    const fs::path dir = tg::checkpoint_path(given);  // "DIR/", "DIR/.", a link: the folder saves write
    const fs::path abs = absolute_clean(dir);
    if (within(absolute_clean(fs::current_path()), abs))
        throw UsageError(fmt::format("{} {}: the current folder, or a folder holding it, cannot be replaced by a checkpoint; "
                                     "name a new folder", option, given.string()));
    for (const fs::path& in : inputs)
        if (!in.empty() && within(absolute_clean(in), abs))
            throw UsageError(fmt::format("{} {}: {} the input {}; a checkpoint saved there would delete it", option,
                                         given.string(), absolute_clean(in) == abs ? "is" : "holds", in.string()));
    // Inside another checkpoint (a training's OUT, or OUT.step-N): that folder's next save, or keep-last
    // pruning, replaces it as a whole, and this one with it.
    for (fs::path up = parent_of(abs); !up.empty(); up = up.parent_path()) {
        if (tg::is_checkpoint_dir(up))
            throw UsageError(fmt::format("{} {}: is inside the checkpoint folder {}, which its next save (or keep-last pruning) "
                                         "replaces as a whole; name a folder elsewhere", option, given.string(), up.string()));
        if (up == up.root_path()) break;
    }
    std::error_code ec;
    if (fs::exists(fs::symlink_status(dir, ec))) {
        if (!fs::is_directory(fs::status(dir, ec)))
            throw UsageError(fmt::format("{} {}: exists and is not a folder; refusing to replace it with a checkpoint",
                                         option, given.string()));
        if (!tg::is_replaceable_dir(dir))
            throw UsageError(fmt::format("{} {}: a folder that is neither empty nor a tapegrad checkpoint (no {}); refusing "
                                         "to replace it: name a new folder (a checkpoint saved before checkpoints carried "
                                         "{} can be resumed with a new --out)", option, given.string(), tg::kCheckpointMarker,
                                         tg::kCheckpointMarker));
        if (const std::string was = tg::checkpoint_kind(dir); !was.empty() && was != kind && !force)
            throw UsageError(fmt::format("{} {}: holds a checkpoint of kind '{}' (this command writes '{}'); refusing to "
                                         "replace it: name a new folder, or add --force", option, given.string(), was, kind));
        if (const auto unknown = tg::unknown_entries(dir); !unknown.empty()) {
            std::string names;
            for (std::size_t i = 0; i < unknown.size() && i < 3; ++i) names += (i ? ", " : "") + unknown[i];
            if (unknown.size() > 3) names += fmt::format(" and {} more", unknown.size() - 3);
            throw UsageError(fmt::format("{} {}: the checkpoint folder holds files tapegrad did not write ({}); saves replace "
                                         "the folder: move them out first", option, given.string(), names));
        }
        check_writable(abs, given, option);  // a folder is swapped by rename: it needs write permission too
    }
    const fs::path parent = parent_of(abs);
    if (!fs::is_directory(parent))
        throw UsageError(fmt::format("{} {}: the folder {} does not exist", option, given.string(), parent.string()));
    check_writable(parent, given, option);
    try {
        tg::probe_checkpoint_save(dir);  // (and a DIR.old of the user's)
    } catch (const tg::FileError& e) {
        throw UsageError(fmt::format("{} {}", option, e.what()));
    }
}

void check_file_output(const fs::path& file, const char* option, const std::vector<fs::path>& inputs) {
    if (file.empty() || file.filename().empty() || file.filename() == "." || file.filename() == "..")
        throw UsageError(fmt::format("{} '{}': not a file name", option, file.string()));
    const fs::path abs = absolute_clean(file);
    for (const fs::path& in : inputs) {
        if (in.empty()) continue;
        if (same_file(in, file))
            throw UsageError(fmt::format("{} {}: is the input {}; writing it would destroy it", option, file.string(), in.string()));
        if (fs::is_directory(in) && within(abs, absolute_clean(in)))
            throw UsageError(fmt::format("{} {}: is inside {}, which this command reads; write it elsewhere", option,
                                         file.string(), in.string()));
    }
    if (fs::is_directory(file)) throw UsageError(fmt::format("{} {}: is a folder, not a file", option, file.string()));
    const fs::path parent = parent_of(abs);
    if (!fs::is_directory(parent))
        throw UsageError(fmt::format("{} {}: the folder {} does not exist", option, file.string(), parent.string()));
    for (fs::path up = parent; !up.empty(); up = up.parent_path()) {
        if (tg::is_checkpoint_dir(up))
            throw UsageError(fmt::format("{} {}: is inside the checkpoint folder {}, which every save replaces as a whole; "
                                         "write it elsewhere", option, file.string(), up.string()));
        if (up == up.root_path()) break;
    }
    check_writable(parent, file, option);
}

}  // namespace translator
