// Every input in the fuzzers' seed corpora (fuzz/corpus/NAME) and every crash the fuzzers ever
// found (fuzz/regressions/NAME) goes through the same reader again: each must either parse or be
// refused with a FileError, in every build, including the sanitizer build.
#include <filesystem>

#include "helpers.hpp"
#include "io/files.hpp"
#include "io/npy.hpp"
#include "text/corpus.hpp"
#include "text/vocab.hpp"

// The command-line fuzzer's own body, so its seeds and past crashes replay through the same code.
#include "fuzz/fuzz_args.cpp"

namespace fs = std::filesystem;

TEST_CASE("fuzz inputs: seeds and past crashes parse or are refused cleanly") {
    std::size_t inputs = 0;
    for (const char* target : {"tsv", "vocab", "npy", "args"}) {
        for (const char* kind : {"corpus", "regressions"}) {
            const fs::path dir = fs::path(TG_SOURCE_ROOT) / "fuzz" / kind / target;
            if (!fs::is_directory(dir)) continue;
            for (const auto& e : fs::directory_iterator(dir)) {
                if (e.path().filename().string()[0] == '.') continue;
                CAPTURE(e.path().string());
                ++inputs;
                const std::string bytes = tg::read_text(e.path());
                const std::string t = target;
                CHECK_NOTHROW([&] {
                    try {
                        if (t == "tsv") tg::text::parse_parallel(bytes, "x.tsv");
                        if (t == "vocab") tg::text::Vocab::parse(bytes, "x.vocab");
                        if (t == "npy") CHECK(tg::parse_npy(bytes, "x.npy").numel() * sizeof(float) <= bytes.size());
                        if (t == "args")  // catches what the parser may throw; anything else escapes here
                            LLVMFuzzerTestOneInput(reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size());
                    } catch (const tg::FileError&) {
                    }
                }());
            }
        }
    }
    CHECK(inputs >= 11);
}
