// libFuzzer target: the .npy reader behind every checkpoint load. It must check the header and the
// shape against the size before allocating: a hostile header must not make it allocate gigabytes.
#include <cstdint>
#include <string>

#include "io/npy.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    try {
        const tg::Tensor t = tg::parse_npy(std::string(reinterpret_cast<const char*>(data), size), "fuzz.npy");
        if (t.numel() * sizeof(float) > size) __builtin_trap();  // more data than the file held
    } catch (const tg::FileError&) {
    } catch (const tg::ShapeError&) {
    }
    return 0;
}
