// libFuzzer target: the translation server's request reader (POST /api/translate's body). Any bytes
// must give a request within its limits or a RequestError (the server's 400), never a crash, a hang
// or another exception: broken JSON, deep nesting, huge numbers, wrong types, unknown fields.
#include <cstdint>
#include <cstdlib>
#include <string>

#include "examples/translator/app/api_request.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string body(reinterpret_cast<const char*>(data), size);
    try {
        const translator::TranslateRequest r = translator::parse_translate_request(body, 2, 16);
        if (r.model >= 2 || r.beam < 1 || r.beam > 16 || r.n_best < 1 || r.n_best > r.beam) std::abort();
        if (r.length_penalty != -1 && !(r.length_penalty >= 0 && r.length_penalty <= 10)) std::abort();
    } catch (const translator::RequestError&) {
    }
    return 0;
}
