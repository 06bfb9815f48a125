#include "io/checkpoint.hpp"

#include <fcntl.h>  // AT_FDCWD, for renameat2
#include <fmt/format.h>
#include <unistd.h>

#include <sys/file.h>  // flock

#include <cerrno>
#include <cmath>
#include <cstring>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <sys/stat.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <map>
#include <optional>
#include <sstream>

namespace fs = std::filesystem;

namespace tg {

namespace {

fs::path npy_path(const fs::path& dir, const std::string& name) { return dir / (name + ".npy"); }

fs::path readable_dir(const fs::path& dir) { return checkpoint_dir_to_read(dir); }

std::string hex(std::uint64_t h) { return fmt::format("{:016x}", h); }

std::string fingerprint_of(const std::vector<std::string>& entries) {
    std::uint64_t h = fnv1a("tapegrad checkpoint 1");
    for (const std::string& e : entries) h = fnv1a(e + '\n', h);
    return hex(h);
}

bool top_level(const std::string& name) { return name.find('/') == std::string::npos; }

}  // namespace

fs::path checkpoint_path(const fs::path& dir) {
    fs::path p = dir.lexically_normal();  // "m/x/." -> "m/x/", "./m" -> "m"
    if (p.has_filename() == false && p.has_parent_path() && p != p.root_path()) p = p.parent_path();  // "m/x/" -> "m/x"
    if (p.empty()) p = ".";
    std::error_code ec;
    if (fs::is_symlink(p, ec)) {
        const fs::path target = fs::weakly_canonical(fs::absolute(p), ec);
        if (!ec) return target;
    }
    return p;
}

namespace {

bool is_empty_dir(const fs::path& dir) {
    std::error_code ec;
    return fs::is_directory(dir, ec) && fs::is_empty(dir, ec) && !ec;
}

// The marker's lines as (key, rest) pairs; none if there is no marker.
std::vector<std::pair<std::string, std::string>> marker_lines(const fs::path& dir) {
    std::vector<std::pair<std::string, std::string>> out;
    std::error_code ec;
    if (!fs::is_regular_file(dir / kCheckpointMarker, ec)) return out;
    std::istringstream in(read_text(dir / kCheckpointMarker));
    for (std::string line; std::getline(in, line);) {
        const auto space = line.find(' ');
        out.emplace_back(line.substr(0, space), space == std::string::npos ? "" : line.substr(space + 1));
    }
    return out;
}

bool process_alive(long pid) { return pid > 0 && !(::kill(static_cast<pid_t>(pid), 0) != 0 && errno == ESRCH); }

// "NAME.saving-PID" (a staging folder of NAME): the pid, or 0 if `entry` is not one.
long staging_pid(const std::string& entry) {
    const auto at = entry.rfind(".saving-");
    if (at == std::string::npos || at == 0) return 0;
    const std::string digits = entry.substr(at + 8);
    if (digits.empty() || digits.size() > 9 || digits.find_first_not_of("0123456789") != std::string::npos) return 0;
    return std::atol(digits.c_str());
}

// A staging folder tapegrad made: marked while it is filled, a complete checkpoint once the marker is
// written (and, after an exchange, the previous checkpoint), or empty (killed between mkdir and mark).
bool is_our_staging(const fs::path& dir) {
    std::error_code ec;
    return fs::is_directory(dir, ec) &&
           (fs::is_regular_file(dir / kStagingMarker, ec) || is_checkpoint_dir(dir) || is_empty_dir(dir));
}

bool is_lock_text(const std::string& text) {
    return text.empty() || text.rfind("tapegrad lock\n", 0) == 0 ||
           (text.size() <= 10 && text.find_first_not_of("0123456789") == std::string::npos);  // the format before
}

}  // namespace

std::string checkpoint_kind(const fs::path& dir) {
    bool any = false, model = false;
    for (const auto& [key, rest] : marker_lines(dir)) {
        any = true;
        if (key == "kind") return rest;
        if (key == "file" && (rest.rfind("src.vocab ", 0) == 0 || rest.find(".npy npy ") != std::string::npos)) model = true;
    }
    return any && model ? "model" : "";
}

std::vector<std::string> unknown_entries(const fs::path& dir) {
    std::map<std::string, bool> known{{kCheckpointMarker, true}};
    bool lists_folders = false;
    for (const auto& [key, rest] : marker_lines(dir)) {
        if (key == "file") known[rest.substr(0, rest.find(' '))] = true;
        if (key == "folder") known[rest] = lists_folders = true;
        if (key == "kind") lists_folders = true;  // written with the folder lines
    }
    if (!lists_folders) known["optimizer"] = true;  // a marker from before folders were listed
    std::vector<std::string> unknown;
    std::error_code ec;
    for (const auto& e : fs::directory_iterator(dir, ec)) {
        const std::string name = e.path().filename().string();
        if (known.count(name) || is_checkpoint_dir(e.path())) continue;  // listed, or a nested checkpoint (last/)
        if (staging_pid(name) && is_our_staging(e.path())) continue;
        if (name.size() > 5 && name.ends_with(".lock") && fs::is_regular_file(fs::symlink_status(e.path(), ec))) {
            std::string text;
            try { text = read_text(e.path()); } catch (const FileError&) {}
            if (is_lock_text(text)) continue;
        }
        unknown.push_back(name);
    }
    std::sort(unknown.begin(), unknown.end());
    return unknown;
}

fs::path checkpoint_dir_to_read(const fs::path& dir_in) {
    const fs::path dir = checkpoint_path(dir_in);
    const fs::path old = dir.string() + ".old";
    // An interrupted fallback save (or save probe) can leave DIR missing or empty and DIR.old whole.
    if ((!fs::exists(dir) || is_empty_dir(dir)) && is_checkpoint_dir(old)) return old;
    if (fs::is_directory(dir)) return dir;
    if (fs::is_directory(old)) return old;
    throw FileError(fmt::format("{}: checkpoint directory not found", dir_in.string()));
}

bool is_checkpoint_dir(const fs::path& dir) { return fs::is_directory(dir) && fs::is_regular_file(dir / kCheckpointMarker); }

bool is_replaceable_dir(const fs::path& dir) { return is_checkpoint_dir(dir) || is_empty_dir(dir); }

void check_old_is_ours(const fs::path& dir) {
    const fs::path old = checkpoint_path(dir).string() + ".old";
    if (fs::exists(fs::symlink_status(old)) && !is_checkpoint_dir(old))
        throw FileError(fmt::format("{}: exists and is not a checkpoint tapegrad moved aside; a save may need that name: "
                                    "move it away", old.string()));
}

void probe_checkpoint_save(const fs::path& dir_in) {
    const fs::path dir = checkpoint_path(dir_in);
    const bool exchange = !(fault_hooks().no_exchange && fault_hooks().no_exchange());
    std::error_code ec;
    auto fail = [&](const std::string& what, int err) {
        throw FileError(fmt::format("{}: a save could not publish a checkpoint here ({}: {}{}); name a folder on another file "
                                    "system, or a new folder", dir.string(), what, std::strerror(err),
                                    err == EXDEV ? ", as overlayfs says of a folder of an image's lower layer" : ""));
    };
    if (!fs::exists(dir)) {  // a new folder: created by one rename of a staging folder
        const fs::path probe = dir.string() + fmt::format(".saving-{}", ::getpid());
        if (!fs::create_directory(probe, ec)) fail("creating " + probe.string(), ec ? ec.value() : EEXIST);
        const int renamed = ::rename(probe.c_str(), dir.c_str()) == 0 ? 0 : errno;
        ::rmdir(renamed ? probe.c_str() : dir.c_str());
        if (renamed) fail("renaming a new folder into place", renamed);
        return;
    }
    check_old_is_ours(dir);
    const fs::path old = dir.string() + ".old";
    if (fs::exists(fs::symlink_status(old))) {
        if (!is_checkpoint_dir(dir)) return;  // DIR empty, its checkpoint at DIR.old: the save itself decides
        fs::remove_all(old, ec);  // a stale copy left by an interrupted fallback save: the save would remove it
    }
    if (!fs::create_directory(old, ec)) fail("creating " + old.string(), ec ? ec.value() : EEXIST);
    if (exchange && ::renameat2(AT_FDCWD, old.c_str(), AT_FDCWD, dir.c_str(), RENAME_EXCHANGE) == 0) {
        if (::renameat2(AT_FDCWD, old.c_str(), AT_FDCWD, dir.c_str(), RENAME_EXCHANGE) != 0)
            fail("exchanging the folder back", errno);  // (dir is empty and its checkpoint at DIR.old: found)
        ::rmdir(old.c_str());
        return;
    }
    // The fallback: DIR moved to DIR.old (an empty folder may be replaced by a rename), then back.
    if (::rename(dir.c_str(), old.c_str()) != 0) {
        const int err = errno;
        ::rmdir(old.c_str());
        fail("renaming the folder", err);
    }
    if (::rename(old.c_str(), dir.c_str()) != 0) fail("renaming the folder back from " + old.string(), errno);
}

CheckpointSnapshot checkpoint_snapshot(const fs::path& dir) {
    CheckpointSnapshot s;
    try {
        const fs::path at = checkpoint_dir_to_read(dir);
        struct stat st {};
        if (::stat(at.c_str(), &st) == 0) {
            s.device = static_cast<unsigned long long>(st.st_dev);
            s.inode = static_cast<unsigned long long>(st.st_ino);
        }
        std::error_code ec;
        if (fs::is_regular_file(at / kCheckpointMarker, ec)) s.marker = read_text(at / kCheckpointMarker);
    } catch (const FileError&) {}  // missing, or replaced while looked at: compared as it is
    return s;
}

std::string verify_checkpoint(const fs::path& dir) {
    const fs::path marker = dir / kCheckpointMarker;
    if (!fs::exists(marker)) return "";
    std::istringstream in(read_text(marker));
    std::string line, fingerprint;
    std::vector<std::string> entries;
    int n = 0;
    while (std::getline(in, line)) {
        ++n;
        if (n == 1) {
            if (line != "tapegrad checkpoint")
                throw FileError(fmt::format("{}:1: not a tapegrad checkpoint marker", marker.string()));
            continue;
        }
        std::istringstream fields(line);
        std::string key, file, kind;
        fields >> key;
        if (key == "format") {
            int version = 0;
            fields >> version;
            if (version != 1)
                throw FileError(fmt::format("{}:{}: checkpoint format {}; this tapegrad reads format 1", marker.string(), n, version));
        } else if (key == "fingerprint") {
            fields >> fingerprint;
        } else if (key == "file") {
            fields >> file >> kind;
            std::string rest;
            std::getline(fields, rest);
            if (file.empty() || !top_level(file) || file == ".." || file == ".")
                throw FileError(fmt::format("{}:{}: '{}' is not a file of the checkpoint", marker.string(), n, file));
            const fs::path path = dir / file;
            if (!fs::exists(path))
                throw FileError(fmt::format("{}: missing, but {} lists it ({}{})", path.string(), marker.string(), kind, rest));
            std::string now;
            if (kind == "text") now = " " + hex(fnv1a(read_text(path)));
            else if (kind == "npy") now = " " + npy_shape(path).str();
            else throw FileError(fmt::format("{}:{}: unknown kind '{}'", marker.string(), n, kind));
            if (now != rest)
                throw FileError(fmt::format("{}: differs from what was saved in this checkpoint ({} says{}, the file has{}): "
                                            "its files no longer belong together", path.string(), kCheckpointMarker, rest, now));
            entries.push_back(line.substr(5));
        }
    }
    if (fingerprint != fingerprint_of(entries))
        throw FileError(fmt::format("{}: the fingerprint does not match the files it lists", marker.string()));
    return fingerprint;
}

fs::path CheckpointLock::path_for(const fs::path& dir) { return checkpoint_path(dir).string() + ".lock"; }

CheckpointLock::CheckpointLock(const fs::path& dir_in) {
    const fs::path dir = checkpoint_path(dir_in);
    path_ = path_for(dir);
    auto read_lock = [this](std::string& text) {  // the file's first bytes; false if it holds more than a lock's
        char buf[64] = {};
        const ssize_t got = ::pread(fd_, buf, sizeof buf, 0);
        text.assign(buf, got > 0 ? static_cast<std::size_t>(got) : 0);
        return got >= 0 && static_cast<std::size_t>(got) < sizeof buf;
    };
    for (int attempt = 0;; ++attempt) {
        // Created here (O_EXCL), or opened as it is; never through a symbolic link (O_NOFOLLOW).
        bool created = true;
        fd_ = ::open(path_.c_str(), O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
        if (fd_ < 0 && errno == EEXIST) {
            created = false;
            fd_ = ::open(path_.c_str(), O_RDWR | O_NOFOLLOW | O_CLOEXEC);
            if (fd_ < 0 && errno == ENOENT && attempt < 100) continue;  // released meanwhile: create it
        }
        if (fd_ < 0) {
            const int err = errno;
            throw FileError(err == ELOOP || err == EISDIR || err == ENXIO
                                ? fmt::format("{}: exists and is not a lock file tapegrad made ({}); refusing to touch it: "
                                              "move it away, or name another folder", path_.string(),
                                              err == ELOOP ? "a symbolic link" : "not a regular file")
                                : fmt::format("{}: cannot create the lock file: {}", path_.string(), std::strerror(err)));
        }
        struct stat opened {};
        if (::fstat(fd_, &opened) != 0 || !S_ISREG(opened.st_mode)) {
            release_fd();
            throw FileError(fmt::format("{}: exists and is not a regular file; refusing to use it as a lock", path_.string()));
        }
        std::string text;
        if (::flock(fd_, LOCK_EX | LOCK_NB) != 0) {
            read_lock(text);
            const auto at = text.find("pid ");
            const std::string pid = at != std::string::npos ? text.substr(at + 4, text.find('\n', at) - at - 4) : text;
            release_fd();
            throw FileError(fmt::format("{}: in use by another process{} (lock {}); wait for it or choose another folder",
                                        dir.string(), pid.empty() ? "" : fmt::format(" (pid {})", pid), path_.string()));
        }
        // Locked: but a holder that was releasing it may have removed the name meanwhile, and then this
        // lock is on a file nobody else will ever open. Only the file still at the path counts.
        struct stat now {};
        if (::lstat(path_.c_str(), &now) != 0 || now.st_ino != opened.st_ino || now.st_dev != opened.st_dev) {
            release_fd();
            if (attempt < 100) continue;
            throw FileError(fmt::format("{}: replaced at every attempt to lock it", path_.string()));
        }
        if (!created) {  // a stale lock of a process that ended, or somebody's file that must stay as it is
            if (!read_lock(text) || !is_lock_text(text)) {
                release_fd();
                throw FileError(fmt::format("{}: exists and is not a lock file tapegrad made; refusing to touch it: move it "
                                            "away, or name another folder", path_.string()));
            }
        }
        text = fmt::format("tapegrad lock\npid {}\n", ::getpid());
        if (::ftruncate(fd_, 0) != 0 || ::pwrite(fd_, text.data(), text.size(), 0) < 0) {}  // the pid is only for messages
        return;
    }
}

void CheckpointLock::release_fd() {
    ::close(fd_);
    fd_ = -1;
}

bool CheckpointLock::held() const {
    struct stat mine {}, now {};
    return fd_ >= 0 && ::fstat(fd_, &mine) == 0 && ::lstat(path_.c_str(), &now) == 0 && mine.st_ino == now.st_ino &&
           mine.st_dev == now.st_dev;
}

void CheckpointLock::check_held() const {
    if (!held())
        throw FileError(fmt::format("{}: removed or replaced since this process locked the folder; another writer may hold it "
                                    "now, so nothing is saved over it", path_.string()));
}

CheckpointLock::~CheckpointLock() {
    if (fd_ < 0) return;
    // Removed while still held: a process that opened it meanwhile finds, once it holds the lock, that
    // the name no longer leads to this file, and starts again with a new one. A DIR.lock that is no
    // longer this lock's file is another writer's: left alone.
    if (held()) ::unlink(path_.c_str());
    release_fd();
}

CheckpointWriter::CheckpointWriter(fs::path dir, std::string kind, bool replace_other_kind)
    : dir_(checkpoint_path(dir)), kind_(std::move(kind)) {
    // A user's files are never replaced: only a checkpoint folder (or an empty one) may be.
    if (fs::exists(dir_) && !is_replaceable_dir(dir_))
        throw FileError(fmt::format("{}: exists and is not a tapegrad checkpoint folder (no {}{}); refusing to replace it",
                                    dir_.string(), kCheckpointMarker, fs::is_directory(dir_) ? ", not empty" : ", not a folder"));
    if (const std::string was = checkpoint_kind(dir_); !was.empty() && was != kind_ && !replace_other_kind)
        throw FileError(fmt::format("{}: holds a checkpoint of kind '{}'; refusing to replace it with one of kind '{}'",
                                    dir_.string(), was, kind_));
    check_old_is_ours(dir_);  // a DIR.old of the user's stops the save now, before anything is written
    // Staging folders of saves whose process died (killed mid-save) are removed: only those that carry
    // tapegrad's marks (a folder of the user's that happens to have such a name stays).
    std::error_code ec;
    const fs::path parent = dir_.parent_path().empty() ? fs::path(".") : dir_.parent_path();
    const std::string prefix = dir_.filename().string() + ".saving-";
    for (const auto& e : fs::directory_iterator(parent, ec)) {
        const std::string name = e.path().filename().string();
        if (name.rfind(prefix, 0) != 0 || staging_pid(name) == 0) continue;
        if (!process_alive(staging_pid(name)) && is_our_staging(e.path())) fs::remove_all(e.path(), ec);
    }
    staging_ = dir_.string() + fmt::format(".saving-{}", ::getpid());
    if (fs::exists(fs::symlink_status(staging_)) && is_our_staging(staging_)) fs::remove_all(staging_, ec);  // a failed save of ours
    for (int n = 1; !fs::create_directory(staging_, ec); ++n) {  // never a folder that was there
        if (ec && ec != std::errc::file_exists) break;
        if (n > 100) break;
        staging_ = dir_.string() + fmt::format(".saving-{}-{}", ::getpid(), n);
    }
    if (ec) throw FileError(fmt::format("{}: cannot create: {}", staging_.string(), ec.message()));
    // The mark goes in first, in one step (no temporary name, no crash point): from the moment the
    // folder holds anything, it says it is tapegrad's.
    const int fd = ::open((staging_ / kStagingMarker).c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    const char note[] = "a checkpoint being saved by tapegrad; removed when complete\n";
    const bool marked = fd >= 0 && ::write(fd, note, sizeof note - 1) == static_cast<ssize_t>(sizeof note - 1);
    if (fd >= 0) ::close(fd);
    if (!marked) throw FileError(fmt::format("{}: cannot write in the staging folder: {}", staging_.string(), std::strerror(errno)));
}

CheckpointWriter::~CheckpointWriter() {
    if (!committed_ && is_our_staging(staging_)) {
        std::error_code ec;
        fs::remove_all(staging_, ec);
    }
}

void CheckpointWriter::add_tensor(const std::string& name, const Tensor& t) {
    const fs::path path = npy_path(staging_, name);
    fs::create_directories(path.parent_path());
    save_npy(path, t);
    if (top_level(name)) entries_.push_back(fmt::format("{}.npy npy {}", name, t.shape().str()));
    else folders_.push_back(name.substr(0, name.find('/')));
}

void CheckpointWriter::add_text(const std::string& filename, const std::string& content) {
    const fs::path path = staging_ / filename;
    fs::create_directories(path.parent_path());
    write_file_atomically(path, content);
    if (top_level(filename)) entries_.push_back(fmt::format("{} text {}", filename, hex(fnv1a(content))));
    else folders_.push_back(filename.substr(0, filename.find('/')));
}

namespace {

// Hard links of `from` (a file, or a folder's files) at `to`: the user's files found in a checkpoint
// folder go into the new one with no copy, and stay whole if the save is interrupted.
void link_tree(const fs::path& from, const fs::path& to) {
    if (fs::is_directory(fs::symlink_status(from))) {
        fs::create_directory(to);
        for (const auto& e : fs::directory_iterator(from)) link_tree(e.path(), to / e.path().filename());
    } else if (fs::is_symlink(fs::symlink_status(from))) {
        fs::copy_symlink(from, to);
    } else {
        fs::create_hard_link(from, to);
    }
}

}  // namespace

void CheckpointWriter::commit() {
    if (fault_hooks().fail_save && fault_hooks().fail_save())
        throw FileError(fmt::format("{}: save failed (a fault injected by a test)", dir_.string()));
    std::sort(folders_.begin(), folders_.end());
    folders_.erase(std::unique(folders_.begin(), folders_.end()), folders_.end());
    std::string marker = "tapegrad checkpoint\nformat 1\n";
    marker += fmt::format("kind {}\n", kind_);
    marker += fmt::format("fingerprint {}\n", fingerprint_of(entries_));
    // Which save this is, unique: two saves of the same shapes would otherwise write the same marker,
    // and a reader whose folder was swapped twice, the second time into a folder that reused the
    // first one's inode, could not tell that it read files of two saves (read_consistently).
    static std::atomic<std::uint64_t> saves_by_this_process{0};
    marker += fmt::format("save {}-{}-{}\n", ::getpid(), std::chrono::system_clock::now().time_since_epoch().count(),
                          ++saves_by_this_process);
    for (const std::string& e : entries_) marker += "file " + e + "\n";
    for (const std::string& f : folders_) marker += "folder " + f + "\n";
    // What a user put inside the checkpoint folder goes into the new one too.
    if (fs::is_directory(dir_)) {
        for (const std::string& name : unknown_entries(dir_)) {
            if (fs::exists(fs::symlink_status(staging_ / name)))
                throw FileError(fmt::format("{}: a file of yours has the name of a file of the checkpoint; move it away",
                                            (dir_ / name).string()));
            try {
                link_tree(dir_ / name, staging_ / name);
            } catch (const fs::filesystem_error& e) {
                throw FileError(fmt::format("{}: a file that is not the checkpoint's cannot be kept across the save ({}); "
                                            "move it out of the folder", (dir_ / name).string(), e.code().message()));
            }
        }
    }
    write_file_atomically(staging_ / kCheckpointMarker, marker);
    fs::remove(staging_ / kStagingMarker);  // complete: the checkpoint marker now identifies it
    for (const auto& entry : fs::recursive_directory_iterator(staging_))
        if (entry.is_directory()) fsync_path(entry.path());
    fsync_path(staging_);
    const fs::path parent = dir_.parent_path().empty() ? fs::path(".") : dir_.parent_path();
    const fs::path old = dir_.string() + ".old";
    crash_point();  // complete and flushed, not yet published
    const bool exchange = !(fault_hooks().no_exchange && fault_hooks().no_exchange());  // tests: as on overlayfs
    if (!fs::exists(dir_)) {
        std::error_code ec;
        fs::rename(staging_, dir_, ec);
        if (ec) throw FileError(fmt::format("{}: cannot rename the new checkpoint into place: {}", dir_.string(), ec.message()));
    } else if (exchange && ::renameat2(AT_FDCWD, staging_.c_str(), AT_FDCWD, dir_.c_str(), RENAME_EXCHANGE) == 0) {
        crash_point();  // published; the previous checkpoint still lies in the staging folder
        fs::remove_all(staging_);  // the staging name now holds the previous checkpoint
    } else {
        // No atomic exchange on this file system: move the old one aside, then the new one in.
        // A crash between the two renames leaves the old checkpoint at DIR.old, which loading finds.
        // DIR.old is removed only if it is a checkpoint.
        check_old_is_ours(dir_);  // (checked when the save began; a user may have made one since)
        if (fs::exists(fs::symlink_status(old))) fs::remove_all(old);
        std::error_code ec;
        fs::rename(dir_, old, ec);
        if (ec)
            throw FileError(fmt::format("{}: this file system can neither exchange nor rename the folder ({}); the previous "
                                        "checkpoint is unchanged: save to a new folder instead", dir_.string(), ec.message()));
        crash_point();
        fs::rename(staging_, dir_, ec);
        if (ec) {
            std::error_code back;
            fs::rename(old, dir_, back);
            throw FileError(fmt::format("{}: cannot rename the new checkpoint into place: {}; the previous one is {}",
                                        dir_.string(), ec.message(), back ? "at " + old.string() : "unchanged"));
        }
        fs::remove_all(old);
    }
    crash_point();  // done
    if (is_checkpoint_dir(old) && fs::is_directory(dir_)) fs::remove_all(old);  // left by an interrupted fallback
    fsync_path(parent);
    committed_ = true;
}

void save_module(CheckpointWriter& w, const Module& m) {
    for (const auto& [name, p] : m.named_parameters()) w.add_tensor(name, p->value());
}

void save_optimizer(CheckpointWriter& w, Optimizer& opt) {
    w.add_text("optimizer/optimizer.txt",
               fmt::format("optimizer {}\nsteps {}\nlr {:.17g}\n", opt.name(), opt.steps(), opt.lr()));
    for (const auto& [name, t] : opt.state()) w.add_tensor("optimizer/" + name, *t);
}

// Tensors read and checked, not yet copied into the model or optimizer: loading reads everything
// first and writes only when all of it is good, so a bad file anywhere leaves nothing changed.
struct StagedTensors {
    std::vector<Tensor*> targets;
    std::vector<Tensor> values;
    void apply() {
        for (std::size_t i = 0; i < targets.size(); ++i) *targets[i] = std::move(values[i]);
    }
};

// Reads every named tensor from dir (file "<name>.npy") and checks its shape.
static StagedTensors read_tensors(const fs::path& dir, const std::vector<std::pair<std::string, Tensor*>>& wanted,
                                  const char* what) {
    StagedTensors staged;
    for (const auto& [name, target] : wanted) {
        const fs::path path = npy_path(dir, name);
        if (!fs::exists(path))
            throw FileError(fmt::format("{}: missing; the {} expects '{}' of shape {} there", path.string(), what,
                                        name, target->shape().str()));
        Tensor t = load_npy(path);
        if (!(t.shape() == target->shape()))
            throw FileError(fmt::format("{}: shape {}, but the {} expects '{}' of shape {}", path.string(),
                                        t.shape().str(), what, name, target->shape().str()));
        // A NaN or an infinity makes every output NaN: such a file is refused, not used in silence.
        if (const float* bad = std::find_if(t.data(), t.data() + t.numel(), [](float v) { return !std::isfinite(v); });
            bad != t.data() + t.numel())
            throw FileError(fmt::format("{}: value {} (flat index {}) is not finite; the {} cannot use it", path.string(), *bad,
                                        bad - t.data(), what));
        staged.targets.push_back(target);
        staged.values.push_back(std::move(t));
    }
    return staged;
}

static StagedTensors read_module(const fs::path& dir_in, Module& m) {
    const fs::path dir = readable_dir(dir_in);
    verify_checkpoint(dir);
    std::vector<std::pair<std::string, Tensor*>> wanted;
    std::map<std::string, bool> expected;
    for (const auto& [name, p] : m.named_parameters()) {
        wanted.emplace_back(name, &p->value());
        expected[name + ".npy"] = true;
    }
    for (const auto& entry : fs::directory_iterator(dir)) {
        const std::string file = entry.path().filename().string();
        if (entry.is_regular_file() && entry.path().extension() == ".npy" && !expected.count(file))
            throw FileError(fmt::format("{}: unexpected file: the model has no parameter '{}'", entry.path().string(),
                                        entry.path().stem().string()));
    }
    return read_tensors(dir, wanted, "model");
}

void load_module(const fs::path& dir, Module& m) {
    read_consistently(dir, [&](const fs::path& d) { return read_module(d, m); }).apply();
}

// The optimizer's state, read and checked; apply() sets it (tensors, step count, learning rate).
struct StagedOptimizer {
    StagedTensors tensors;
    Optimizer* opt;
    std::int64_t steps;
    double lr;
    void apply() {
        tensors.apply();
        opt->set_steps(steps);
        opt->set_lr(lr);
    }
};

static StagedOptimizer read_optimizer(const fs::path& dir_in, Optimizer& opt) {
    const fs::path dir = readable_dir(dir_in) / "optimizer";
    const fs::path info = dir / "optimizer.txt";
    std::istringstream in(read_text(info));
    std::string key, name;
    long long steps = -1;
    double lr = -1;
    int line = 0;
    for (std::string text; std::getline(in, text);) {
        ++line;
        std::istringstream fields(text);
        fields >> key;
        if (key == "optimizer") fields >> name;
        else if (key == "steps") fields >> steps;
        else if (key == "lr") fields >> lr;
        if (fields.fail())
            throw FileError(fmt::format("{}:{}: cannot read '{}'", info.string(), line, text));
    }
    if (name != opt.name())
        throw FileError(fmt::format("{}: state of optimizer '{}', but resuming with '{}'", info.string(), name, opt.name()));
    if (steps < 0 || !(lr >= 0)) throw FileError(fmt::format("{}: 'steps' or 'lr' is missing or negative", info.string()));
    return {read_tensors(dir, opt.state(), "optimizer"), &opt, steps, lr};
}

void load_optimizer(const fs::path& dir, Optimizer& opt) { read_optimizer(dir, opt).apply(); }

void save_checkpoint(const fs::path& dir, const Module& m, Optimizer* opt) {
    CheckpointWriter w(dir);
    save_module(w, m);
    if (opt) save_optimizer(w, *opt);
    w.commit();
}

void load_checkpoint(const fs::path& dir, Module& m, Optimizer* opt) {
    // Read both, then change both: a bad optimizer file must not leave the model already overwritten.
    auto [model, state] = read_consistently(dir, [&](const fs::path& d) {
        StagedTensors staged = read_module(d, m);
        std::optional<StagedOptimizer> optimizer;
        if (opt) optimizer = read_optimizer(d, *opt);
        return std::pair{std::move(staged), std::move(optimizer)};
    });
    model.apply();
    if (state) state->apply();
}

}  // namespace tg
