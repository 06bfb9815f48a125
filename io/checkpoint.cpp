#include "io/checkpoint.hpp"

#include <fcntl.h>  // AT_FDCWD, for renameat2
#include <fmt/format.h>
#include <unistd.h>

#include <sys/file.h>  // flock

#include <cerrno>
#include <cstring>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <optional>
#include <sstream>

namespace fs = std::filesystem;

namespace tg {

namespace {

fs::path npy_path(const fs::path& dir, const std::string& name) { return dir / (name + ".npy"); }

fs::path readable_dir(const fs::path& dir) { return checkpoint_dir_to_read(dir); }

// FNV-1a, 64 bits: a fingerprint of the files' contents, not a defence against forgery.
std::uint64_t fnv1a(std::string_view bytes, std::uint64_t h = 0xcbf29ce484222325ull) {
    for (const unsigned char c : bytes) h = (h ^ c) * 0x100000001b3ull;
    return h;
}

std::string hex(std::uint64_t h) { return fmt::format("{:016x}", h); }

std::string fingerprint_of(const std::vector<std::string>& entries) {
    std::uint64_t h = fnv1a("tapegrad checkpoint 1");
    for (const std::string& e : entries) h = fnv1a(e + '\n', h);
    return hex(h);
}

bool top_level(const std::string& name) { return name.find('/') == std::string::npos; }

}  // namespace

fs::path checkpoint_dir_to_read(const fs::path& dir) {
    if (fs::is_directory(dir)) return dir;
    const fs::path old = dir.string() + ".old";
    if (fs::is_directory(old)) return old;
    throw FileError(fmt::format("{}: checkpoint directory not found", dir.string()));
}

bool is_checkpoint_dir(const fs::path& dir) { return fs::is_directory(dir) && fs::is_regular_file(dir / kCheckpointMarker); }

bool is_replaceable_dir(const fs::path& dir) {
    std::error_code ec;
    return is_checkpoint_dir(dir) || (fs::is_directory(dir) && fs::is_empty(dir, ec) && !ec);
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

CheckpointLock::CheckpointLock(const fs::path& dir_in) {
    fs::path dir = dir_in;
    if (dir.filename().empty()) dir = dir.parent_path();
    path_ = dir.string() + ".lock";
    fd_ = ::open(path_.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd_ < 0) throw FileError(fmt::format("{}: cannot create the lock file: {}", path_.string(), std::strerror(errno)));
    if (::flock(fd_, LOCK_EX | LOCK_NB) != 0) {
        char buf[32] = {};
        const ssize_t got = ::pread(fd_, buf, sizeof buf - 1, 0);
        ::close(fd_);
        fd_ = -1;
        throw FileError(fmt::format("{}: in use by another process{} (lock {}); wait for it or choose another folder",
                                    dir.string(), got > 0 ? fmt::format(" (pid {})", std::string(buf, static_cast<std::size_t>(got))) : "",
                                    path_.string()));
    }
    const std::string pid = std::to_string(::getpid());
    if (::ftruncate(fd_, 0) != 0 || ::pwrite(fd_, pid.data(), pid.size(), 0) < 0) {}  // the pid is only for messages
}

CheckpointLock::~CheckpointLock() {
    if (fd_ < 0) return;
    ::unlink(path_.c_str());  // while still held: a waiting process then fails instead of taking a stale file
    ::close(fd_);
}

CheckpointWriter::CheckpointWriter(fs::path dir) : dir_(std::move(dir)) {
    if (dir_.filename().empty()) dir_ = dir_.parent_path();  // "ckpt/" -> "ckpt"
    // A user's files are never replaced: only a checkpoint folder (or an empty one) may be.
    if (fs::exists(dir_) && !is_replaceable_dir(dir_))
        throw FileError(fmt::format("{}: exists and is not a tapegrad checkpoint folder (no {}{}); refusing to replace it",
                                    dir_.string(), kCheckpointMarker, fs::is_directory(dir_) ? ", not empty" : ", not a folder"));
    staging_ = dir_.string() + fmt::format(".saving-{}", ::getpid());
    std::error_code ec;
    // Staging folders of saves whose process died (killed mid-save) are removed.
    const fs::path parent = dir_.parent_path().empty() ? fs::path(".") : dir_.parent_path();
    const std::string prefix = dir_.filename().string() + ".saving-";
    for (const auto& e : fs::directory_iterator(parent, ec)) {
        const std::string name = e.path().filename().string();
        if (name.rfind(prefix, 0) != 0) continue;
        const long pid = std::atol(name.c_str() + prefix.size());
        if (pid > 0 && ::kill(static_cast<pid_t>(pid), 0) != 0 && errno == ESRCH) fs::remove_all(e.path(), ec);
    }
    fs::remove_all(staging_, ec);
    fs::create_directories(staging_, ec);
    if (ec) throw FileError(fmt::format("{}: cannot create: {}", staging_.string(), ec.message()));
}

CheckpointWriter::~CheckpointWriter() {
    if (!committed_) {
        std::error_code ec;
        fs::remove_all(staging_, ec);
    }
}

void CheckpointWriter::add_tensor(const std::string& name, const Tensor& t) {
    const fs::path path = npy_path(staging_, name);
    fs::create_directories(path.parent_path());
    save_npy(path, t);
    if (top_level(name)) entries_.push_back(fmt::format("{}.npy npy {}", name, t.shape().str()));
}

void CheckpointWriter::add_text(const std::string& filename, const std::string& content) {
    const fs::path path = staging_ / filename;
    fs::create_directories(path.parent_path());
    write_file_atomically(path, content);
    if (top_level(filename)) entries_.push_back(fmt::format("{} text {}", filename, hex(fnv1a(content))));
}

void CheckpointWriter::commit() {
    if (save_should_fail())
        throw FileError(fmt::format("{}: save failed (simulated by TAPEGRAD_FAIL_SAVE_AT)", dir_.string()));
    std::string marker = "tapegrad checkpoint\nformat 1\n";
    marker += fmt::format("fingerprint {}\n", fingerprint_of(entries_));
    for (const std::string& e : entries_) marker += "file " + e + "\n";
    write_file_atomically(staging_ / kCheckpointMarker, marker);
    for (const auto& entry : fs::recursive_directory_iterator(staging_))
        if (entry.is_directory()) fsync_path(entry.path());
    fsync_path(staging_);
    const fs::path parent = dir_.parent_path().empty() ? fs::path(".") : dir_.parent_path();
    crash_point();  // complete and flushed, not yet published
    if (!fs::exists(dir_)) {
        fs::rename(staging_, dir_);
    } else if (::renameat2(AT_FDCWD, staging_.c_str(), AT_FDCWD, dir_.c_str(), RENAME_EXCHANGE) == 0) {
        crash_point();  // published; the previous checkpoint still lies in the staging folder
        fs::remove_all(staging_);  // the staging name now holds the previous checkpoint
    } else {
        // No atomic exchange on this file system: move the old one aside, then the new one in.
        // A crash between the two renames leaves the old checkpoint at dir.old, which loading finds.
        const fs::path old = dir_.string() + ".old";
        fs::remove_all(old);
        fs::rename(dir_, old);
        crash_point();
        fs::rename(staging_, dir_);
        fs::remove_all(old);
    }
    crash_point();  // done
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

void load_module(const fs::path& dir, Module& m) { read_module(dir, m).apply(); }

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
    StagedTensors model = read_module(dir, m);
    std::optional<StagedOptimizer> state;
    if (opt) state = read_optimizer(dir, *opt);
    model.apply();
    if (state) state->apply();
}

}  // namespace tg
