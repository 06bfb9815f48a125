// The translation server's API, apart from HTTP (serve.cpp carries it over cpp-httplib): a request is
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
#include <atomic>
#include <cstddef>
#include <mutex>
#include <condition_variable>
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
    std::size_t max_beam = 16;
    std::size_t workers = 2;      // requests decoded at once
    std::size_t queue = 16;       // requests waiting for a worker; more: 503
};

struct ApiResponse {
    int status = 200;
    std::string body;  // JSON
};

// At most `workers` requests decode at once and at most `queue` more wait for one; the rest are
// turned away at once (503), so memory and latency stay bounded under any load.
class Admission {
public:
    Admission(std::size_t workers, std::size_t queue) : workers_(workers), queue_(queue) {}
    // A worker's slot, held until the Ticket is destroyed; waits while all are busy and the queue has
    // room; an empty Ticket (false) when the queue is full too.
    class Ticket {
    public:
        Ticket() = default;
        explicit Ticket(Admission* a) : admission_(a) {}
        Ticket(Ticket&& o) noexcept : admission_(std::exchange(o.admission_, nullptr)) {}
        Ticket& operator=(Ticket&&) = delete;
        ~Ticket();
        explicit operator bool() const { return admission_ != nullptr; }

    private:
        Admission* admission_ = nullptr;
    };
    Ticket enter();
    std::size_t running() const;
    std::size_t waiting() const;

private:
    std::size_t workers_, queue_;
    mutable std::mutex mutex_;
    std::condition_variable slot_free_;
    std::size_t running_ = 0, waiting_ = 0;
};

class Api {
public:
    Api(std::vector<ServedModel>& models, const ApiLimits& limits)
        : models_(models), limits_(limits), admission_(limits.workers, limits.queue) {}
    ApiResponse handle(const std::string& method, const std::string& path, const std::string& body);

    // A JSON error body: {"error": "..."}.
    static std::string error_body(const std::string& message);

private:
    ApiResponse models() const;
    ApiResponse translate(const std::string& body);

    std::vector<ServedModel>& models_;
    ApiLimits limits_;
    Admission admission_;
};

}  // namespace translator
