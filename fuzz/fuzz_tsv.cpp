// libFuzzer target: the parallel-text and alignment readers must answer any bytes with pairs or a
// FileError, never a crash, a hang or unbounded memory.
#include <cstdint>
#include <string>

#include "io/files.hpp"
#include "text/corpus.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string text(reinterpret_cast<const char*>(data), size);
    std::vector<tg::text::SentencePair> pairs;
    try {
        pairs = tg::text::parse_parallel(text, "fuzz.tsv");
    } catch (const tg::FileError&) {
    }
    try {  // the same bytes as alignments, checked against the pairs when there are some
        tg::text::parse_alignments(text, "fuzz.align", pairs.empty() ? nullptr : &pairs);
    } catch (const tg::FileError&) {
    }
    return 0;
}
