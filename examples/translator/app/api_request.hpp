// The body of POST /api/translate, parsed and checked (nlohmann-json: untrusted JSON is never parsed
// by hand). Apart from the models and HTTP, so that fuzz/fuzz_api_request.cpp can run it alone.
#pragma once
#include <cstddef>
#include <string>

namespace translator {

struct TranslateRequest {
    std::string text;             // the sentence
    std::size_t model = 0;        // which of the served models
    std::size_t beam = 1, n_best = 1;
    double length_penalty = -1;   // below 0: ranked per word (DecodeOptions)
    bool heads = false;           // also every layer's every head (the Transformer)
};

struct RequestError {
    std::string message;  // what is wrong, naming the field
};

// Throws RequestError for a body that is not JSON, not an object, with an unknown field or a field of
// the wrong type or out of range (model < models, 1 <= beam <= max_beam, 1 <= n_best <= beam).
TranslateRequest parse_translate_request(const std::string& body, std::size_t models, std::size_t max_beam);

}  // namespace translator
