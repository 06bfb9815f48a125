// The translation server's API, apart from HTTP (cmd_serve.cpp carries it over http_server.cpp): a request is
// a method, a path and a body; the answer a status and a JSON body. Bad input is answered, never
// thrown: 400 with a one-line JSON error naming what is wrong, 404 for an unknown path, 405 for a
// known path with the wrong method, 503 when the decoding queue is full. No request names a file.
//
//   GET  /api/models      every model served: its configuration, vocabulary sizes and units
//   POST /api/translate   {"text": "...", "model": 0, "beam": 1, "n_best": 1, "length_penalty": 0.6,
//                          "heads": false}
//     -> the translation, its source and target words (and pieces, for a subword model), the attention
//        over words (rows: target words and </s>; columns: source words and </s>), with "heads" each
//        layer's each head too (the Transformer), the n-best list with scores, and the time taken.
#pragma once
#include <cstddef>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "checkpoint.hpp"
#include "kernels/packed.hpp"

namespace translator {

struct ServedModel {
    std::string name;        // the checkpoint folder's name, as the page shows it
    LoadedModel loaded;
    tg::PackedWeight packed;  // the output weight, packed once for every request
};

struct ApiLimits {
    std::size_t max_words = 100;  // a longer source is refused (400)
    std::size_t max_pieces = 512; // a source the model reads as more pieces is refused (400)
    std::size_t max_beam = 16;
};

struct ApiResponse {
    int status = 200;
    std::string body;  // JSON
};

class Api {
public:
    Api(std::vector<ServedModel>& models, const ApiLimits& limits) : models_(models), limits_(limits) {}
    // Answers one request on the calling thread (the server calls it from its WorkQueue's workers).
    // `cancelled`, asked between decoding steps, stops a translation no one waits for any more.
    ApiResponse handle(const std::string& method, const std::string& path, const std::string& body,
                       const std::function<bool()>& cancelled = {});

private:
    ApiResponse models() const;
    ApiResponse translate(const std::string& body, const std::function<bool()>& cancelled);

    std::vector<ServedModel>& models_;
    ApiLimits limits_;
};

}  // namespace translator
