#include "io/files.hpp"

#include <fcntl.h>
#include <fmt/format.h>
#include <unistd.h>

#include <csignal>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>

namespace tg {

std::string printable(std::string_view text, std::size_t max) {
    std::string out;
    for (char ch : text.substr(0, max)) out += (static_cast<unsigned char>(ch) < 0x20 || ch == 0x7f) ? '?' : ch;
    return text.size() > max ? out + "..." : out;
}

std::string read_text(const std::filesystem::path& path) {
    std::error_code dir_ec;  // (a link to itself: the open below says so)
    if (std::filesystem::is_directory(path, dir_ec)) throw FileError(fmt::format("{}: is a directory, not a file", path.string()));
    std::ifstream in(path, std::ios::binary);
    if (!in) throw FileError(fmt::format("{}: cannot open: {}", path.string(), std::strerror(errno)));
    // Sized once from the file's length and read into place (a stream copy grows by doubling and
    // then copies: three first touches of every page of a large checkpoint); what may follow the
    // length read (a file that grew; all of a pipe or of a /proc file, which have no length) is appended.
    std::string s;
    std::error_code ec;
    if (std::filesystem::is_regular_file(path, ec)) {
        in.seekg(0, std::ios::end);
        if (const std::streamoff size = in.tellg(); size > 0) {
            s.resize(static_cast<std::size_t>(size));
            in.seekg(0);
            in.read(s.data(), size);
            s.resize(static_cast<std::size_t>(in.gcount()));
            if (in.eof()) in.clear(in.rdstate() & ~(std::ios::failbit | std::ios::eofbit));  // it shrank: what is there
        } else {
            in.clear();
            in.seekg(0);
        }
    }
    if (!in.bad() && in.peek() != std::ifstream::traits_type::eof()) {
        std::ostringstream rest;
        rest << in.rdbuf();
        s += rest.str();
    }
    if (in.bad()) throw FileError(fmt::format("{}: read error", path.string()));
    return s;
}

std::uint64_t fnv1a(std::string_view bytes, std::uint64_t h) {
    for (const unsigned char c : bytes) h = (h ^ c) * 0x100000001b3ull;
    return h;
}

FaultHooks& fault_hooks() {
    static FaultHooks hooks;  // (a function's static: set before main by a test's initialiser, whatever the order)
    return hooks;
}

AtomicFile::AtomicFile(std::filesystem::path path) : path_(std::move(path)) {
    // A temporary name of this process's own (O_EXCL: never a file that was already there).
    for (int attempt = 0; fd_ < 0 && attempt < 100; ++attempt) {
        tmp_ = path_.string() + fmt::format(".tmp-{}{}", ::getpid(), attempt ? fmt::format("-{}", attempt) : "");
        fd_ = ::open(tmp_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
        if (fd_ < 0 && errno != EEXIST) break;
    }
    if (fd_ < 0) throw FileError(fmt::format("{}: cannot create: {}", tmp_.string(), std::strerror(errno)));
}

AtomicFile::~AtomicFile() {
    if (fd_ >= 0) {
        ::close(fd_);
        ::unlink(tmp_.c_str());  // nothing left behind
    }
}

void AtomicFile::write(std::string_view bytes) {
    std::size_t done = 0;
    while (done < bytes.size()) {
        const ssize_t n = ::write(fd_, bytes.data() + done, bytes.size() - done);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) throw FileError(fmt::format("{}: write failed: {}", tmp_.string(), std::strerror(errno)));
        done += static_cast<std::size_t>(n);
    }
}

void AtomicFile::commit() {
    crash_point();  // written, not flushed
    const bool synced = ::fsync(fd_) == 0;
    const bool closed = ::close(fd_) == 0;
    fd_ = -1;
    if (!(closed && synced)) {
        const int err = errno;
        ::unlink(tmp_.c_str());
        throw FileError(fmt::format("{}: cannot flush to disk: {}", tmp_.string(), std::strerror(err)));
    }
    crash_point();  // flushed, not renamed
    std::error_code ec;
    std::filesystem::rename(tmp_, path_, ec);
    if (ec) {
        ::unlink(tmp_.c_str());
        throw FileError(fmt::format("{}: cannot rename into place: {}", path_.string(), ec.message()));
    }
    crash_point();  // in place
}

void write_file_atomically(const std::filesystem::path& path, const std::string& content) {
    AtomicFile file(path);
    file.write(content);
    file.commit();
}

void fsync_path(const std::filesystem::path& path) {
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
        ::fsync(fd);
        ::close(fd);
    }
}

}  // namespace tg
