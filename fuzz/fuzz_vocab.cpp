// libFuzzer target: the vocabulary reader.
#include <cstdint>
#include <string>

#include "io/files.hpp"
#include "text/vocab.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    try {
        const tg::text::Vocab v = tg::text::Vocab::parse(std::string(reinterpret_cast<const char*>(data), size), "fuzz.vocab");
        (void)v.decode(v.encode({"a", "<unk>"}, true));
    } catch (const tg::FileError&) {
    }
    return 0;
}
