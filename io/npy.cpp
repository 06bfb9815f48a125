#include "io/npy.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <bit>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <limits>

namespace tg {

static_assert(std::endian::native == std::endian::little, "the .npy code assumes a little-endian machine");

namespace {

constexpr char kMagic[] = "\x93NUMPY";
constexpr std::size_t kMaxHeader = 1 << 16;  // real headers are ~128 bytes; refuse anything absurd

[[noreturn]] void bad(const std::string& name, const std::string& why) {
    throw FileError(fmt::format("{}: not a valid float32 .npy file: {}", name, why));
}

// The header is a Python dict literal: {'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), }
// Finds `'key':` and returns the position just after it.
std::size_t find_key(const std::string& header, const char* key, const std::string& name) {
    const std::string quoted = fmt::format("'{}'", key);
    std::size_t at = header.find(quoted);
    if (at == std::string::npos) bad(name, fmt::format("header has no {} entry", quoted));
    at += quoted.size();
    while (at < header.size() && header[at] == ' ') ++at;
    if (at >= header.size() || header[at] != ':') bad(name, fmt::format("header entry {} has no ':'", quoted));
    ++at;
    while (at < header.size() && header[at] == ' ') ++at;
    return at;
}

Shape parse_shape(const std::string& header, const std::string& name) {
    std::size_t at = find_key(header, "shape", name);
    if (at >= header.size() || header[at] != '(') bad(name, "shape is not a tuple");
    const std::size_t close = header.find(')', at);
    if (close == std::string::npos) bad(name, "shape tuple is not closed");
    Shape shape;
    std::size_t i = at + 1;
    while (i < close) {
        while (i < close && (header[i] == ' ' || header[i] == ',')) ++i;
        if (i == close) break;
        if (header[i] < '0' || header[i] > '9') bad(name, fmt::format("shape has a non-number at '{}'", header.substr(i, close - i)));
        std::size_t d = 0;
        while (i < close && header[i] >= '0' && header[i] <= '9') {
            if (d > (std::numeric_limits<std::size_t>::max() - 9) / 10) bad(name, "a dimension of the shape overflows");
            d = d * 10 + static_cast<std::size_t>(header[i++] - '0');
        }
        if (shape.rank() == Shape::kMaxRank) bad(name, fmt::format("shape has more than {} dimensions", Shape::kMaxRank));
        shape.push_back(d);
    }
    return shape;
}

// What the header says: the shape, where the data starts, checked against the file's `size` bytes.
// `bytes` holds at least the file's first min(size, 12 + kMaxHeader) bytes.
struct Header {
    Shape shape;
    std::size_t data_start = 0;
};
Header parse_header(const std::string& bytes, std::size_t size, const std::string& name) {
    if (bytes.size() < 10 || bytes.compare(0, 6, kMagic, 6) != 0) bad(name, "it does not start with the .npy magic");
    const auto major = static_cast<unsigned char>(bytes[6]);
    std::size_t header_len = 0, header_start = 0;
    if (major == 1) {
        header_len = static_cast<unsigned char>(bytes[8]) | static_cast<std::size_t>(static_cast<unsigned char>(bytes[9])) << 8;
        header_start = 10;
    } else if (major == 2 || major == 3) {
        if (bytes.size() < 12) bad(name, "it ends inside the header");
        for (int k = 3; k >= 0; --k) header_len = header_len << 8 | static_cast<unsigned char>(bytes[8 + static_cast<std::size_t>(k)]);
        header_start = 12;
    } else {
        bad(name, fmt::format("unknown format version {}", major));
    }
    if (header_len > kMaxHeader) bad(name, fmt::format("header length {} is implausible", header_len));
    if (bytes.size() < header_start + header_len) bad(name, "it ends inside the header");
    const std::string header = bytes.substr(header_start, header_len);

    std::size_t at = find_key(header, "descr", name);
    if (header.compare(at, 5, "'<f4'") != 0 && header.compare(at, 5, "'|f4'") != 0)
        bad(name, fmt::format("dtype is {}, expected float32 ('<f4')", header.substr(at, header.find(',', at) - at)));
    at = find_key(header, "fortran_order", name);
    if (header.compare(at, 5, "False") != 0) bad(name, "it is in Fortran order; save it in C order");
    const Shape shape = parse_shape(header, name);

    // The payload must hold exactly the shape's elements: checked before allocating anything.
    const std::size_t payload = size - header_start - header_len;
    std::size_t count = 1;
    for (std::size_t d : shape) {
        if (d != 0 && count > std::numeric_limits<std::size_t>::max() / sizeof(float) / d)
            bad(name, fmt::format("shape {} is larger than the file (or any file)", shape.str()));
        count *= d;
    }
    if (count * sizeof(float) != payload)
        bad(name, fmt::format("shape {} needs {} bytes of data, the file has {}{}", shape.str(), count * sizeof(float),
                              payload, payload < count * sizeof(float) ? " (truncated?)" : ""));
    return {shape, header_start + header_len};
}

}  // namespace

Tensor parse_npy(const std::string& bytes, const std::string& name) {
    const Header h = parse_header(bytes, bytes.size(), name);
    Tensor t(h.shape);
    if (t.numel()) std::memcpy(t.data(), bytes.data() + h.data_start, t.numel() * sizeof(float));
    return t;
}

Shape npy_shape(const std::filesystem::path& path) {
    const std::string name = path.string();
    if (std::filesystem::is_directory(path)) throw FileError(fmt::format("{}: is a directory, not a file", name));
    std::ifstream in(path, std::ios::binary);
    if (!in) throw FileError(fmt::format("{}: cannot open: {}", name, std::strerror(errno)));
    std::error_code ec;
    const std::uintmax_t size = std::filesystem::file_size(path, ec);
    if (ec) throw FileError(fmt::format("{}: cannot read its size: {}", name, ec.message()));
    std::string head(static_cast<std::size_t>(std::min<std::uintmax_t>(size, 12 + kMaxHeader)), '\0');
    in.read(head.data(), static_cast<std::streamsize>(head.size()));
    if (static_cast<std::size_t>(in.gcount()) != head.size()) throw FileError(fmt::format("{}: read error", name));
    return parse_header(head, static_cast<std::size_t>(size), name).shape;
}

Tensor load_npy(const std::filesystem::path& path) { return parse_npy(read_text(path), path.string()); }

void save_npy(const std::filesystem::path& path, const Tensor& t) {
    // Python tuple syntax: () for a scalar, (3,) for rank 1, (3, 4) otherwise.
    const std::string dims = t.rank() == 1 ? fmt::format("{},", t.shape()[0])
                                           : fmt::format("{}", fmt::join(t.shape().begin(), t.shape().end(), ", "));
    std::string header = fmt::format("{{'descr': '<f4', 'fortran_order': False, 'shape': ({}), }}", dims);
    // Pad with spaces so that the data starts on a 64-byte boundary, ending the header with '\n'.
    const std::size_t total = 10 + header.size() + 1;
    header.append((64 - total % 64) % 64, ' ');
    header.push_back('\n');
    std::string bytes(kMagic, 6);
    bytes += '\x01';
    bytes += '\x00';
    bytes += static_cast<char>(header.size() & 0xff);
    bytes += static_cast<char>(header.size() >> 8);
    bytes += header;
    if (t.numel()) bytes.append(reinterpret_cast<const char*>(t.data()), t.numel() * sizeof(float));

    write_file_atomically(path, bytes);
}

}  // namespace tg
