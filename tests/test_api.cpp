// The translation server's API without HTTP (examples/translator/app/api.cpp): what it answers, checked
// against the translator's own decoding, and every kind of bad request answered with its status and a
// one-line JSON error; the queue of requests (workers, queue, 503) on its own.
#include <nlohmann/json.hpp>
#include <atomic>
#include <filesystem>
#include <mutex>
#include <thread>

#include "api.hpp"
#include "cli_helpers.hpp"
#include "helpers.hpp"
#include "views.hpp"
#include "work_queue.hpp"

using namespace translator;
using json = nlohmann::json;

namespace {

std::vector<ServedModel> served_demo_model() {
    std::vector<ServedModel> models;
    LoadedModel m = load_model(tg::test::trained().model);
    tg::PackedWeight packed(m.model->output_weight().value());
    models.push_back({"model", std::move(m), std::move(packed)});
    return models;
}

}  // namespace

TEST_CASE("API: GET /api/models describes the model; POST /api/translate gives decoding's translation and attention") {
    std::vector<ServedModel> models = served_demo_model();
    Api api(models, {});
    const ApiResponse listed = api.handle("GET", "/api/models", "");
    REQUIRE(listed.status == 200);
    const json m = json::parse(listed.body)["models"][0];
    CHECK(m["name"] == "model");
    CHECK(m["units"] == "words");
    CHECK(m["config"]["arch"] == "rnnsearch");
    CHECK(m["parameters"].get<std::size_t>() == models[0].loaded.model->parameter_count());

    const ApiResponse r = api.handle("POST", "/api/translate", R"({"text": "the big dog sees a cat", "beam": 3, "n_best": 2})");
    REQUIRE(r.status == 200);
    const json out = json::parse(r.body);
    const LoadedModel& lm = models[0].loaded;
    const tg::text::Sentence words = tg::text::split_words("the big dog sees a cat");
    const std::vector<Translation> best = translate_one(lm, words, 3, 2, {});
    CHECK(out["text"] == lm.target_text(best[0].words));
    REQUIRE(out["n_best"].size() == 2);
    CHECK(out["n_best"][0]["text"] == out["text"]);
    CHECK(out["n_best"][0]["score"].get<double>() >= out["n_best"][1]["score"].get<double>());
    const Labelled l = labelled(lm, words, best[0], true);
    CHECK(out["source"] == json(l.cols));
    CHECK(out["target"] == json(l.rows));
    REQUIRE(out["attention"].size() == l.attention.rows);
    for (std::size_t i = 0; i < l.attention.rows; ++i) {
        REQUIRE(out["attention"][i].size() == l.attention.cols);
        for (std::size_t j = 0; j < l.attention.cols; ++j)
            CHECK(out["attention"][i][j].get<double>() == doctest::Approx(l.attention.at(i, j)).epsilon(1e-5));
    }
    CHECK(out["ms"].get<double>() > 0);
    const json empty = json::parse(api.handle("POST", "/api/translate", R"({"text": "   "})").body);
    CHECK(empty["text"] == "");
}

TEST_CASE("API: every bad request gets its status and a one-line JSON error naming what is wrong; the API answers after") {
    std::vector<ServedModel> models = served_demo_model();
    ApiLimits limits;
    limits.max_words = 5;
    Api api(models, limits);
    const struct {
        const char *method, *path, *body;
        int status;
        const char* says;
    } cases[] = {
        {"POST", "/api/translate", "{\"text\": \"a", 400, "not JSON"},
        {"POST", "/api/translate", "[1, 2]", 400, "JSON object"},
        {"POST", "/api/translate", R"({"text": "a", "beam": 1e400})", 400, "number out of range"},  // (found by fuzz_api)
        {"POST", "/api/translate", "{}", 400, "'text' must be a string"},
        {"POST", "/api/translate", R"({"text": 3})", 400, "'text' must be a string"},
        {"POST", "/api/translate", R"({"text": "a", "file": "/etc/passwd"})", 400, "unknown field 'file'"},
        {"POST", "/api/translate", R"({"text": "a", "beam": 0})", 400, "'beam' must be an integer from 1 to 16"},
        {"POST", "/api/translate", R"({"text": "a", "beam": 2, "n_best": 3})", 400, "'n_best' must be an integer from 1 to 2"},
        {"POST", "/api/translate", R"({"text": "a", "model": 1})", 400, "'model' must be an integer from 0 to 0"},
        {"POST", "/api/translate", R"({"text": "a", "length_penalty": "x"})", 400, "'length_penalty'"},
        {"POST", "/api/translate", R"({"text": "a", "heads": 1})", 400, "'heads' must be true or false"},
        {"POST", "/api/translate", R"({"text": "a b c d e f"})", 400, "6 words; the limit is 5 (--max-words)"},
        {"GET", "/api/translate", "", 405, "use POST"},
        {"POST", "/api/models", "", 405, "use GET"},
        {"GET", "/api/nothing", "", 404, "no such path"},
    };
    for (const auto& c : cases) {
        CAPTURE(c.body);
        const ApiResponse r = api.handle(c.method, c.path, c.body);
        CHECK(r.status == c.status);
        CHECK(r.body.find('\n') == std::string::npos);
        const json error = json::parse(r.body);
        CHECK(error["error"].get<std::string>().find(c.says) != std::string::npos);
    }
    CHECK(api.handle("POST", "/api/translate", R"({"text": "a dog"})").status == 200);  // still answering
}

TEST_CASE("WorkQueue: `workers` threads made once, at most `queue` more waiting, the rest turned away at once") {
    WorkQueue none_waiting(1, 0);
    std::mutex gate;
    std::unique_lock hold(gate);
    std::atomic<int> ran{0};
    CHECK(none_waiting.submit([&] { std::lock_guard g(gate); ++ran; }));  // the worker takes it, and waits at the gate
    while (none_waiting.running() == 0) std::this_thread::yield();
    CHECK_FALSE(none_waiting.submit([&] { ++ran; }));  // no worker free, no queue: 503
    hold.unlock();
    while (none_waiting.running() != 0 || ran.load() == 0) std::this_thread::yield();
    CHECK(ran.load() == 1);

    WorkQueue one_waiting(1, 1);
    hold.lock();
    CHECK(one_waiting.submit([&] { std::lock_guard g(gate); ++ran; }));
    while (one_waiting.running() == 0) std::this_thread::yield();
    CHECK(one_waiting.submit([&] { ++ran; }));        // waits for the worker
    CHECK_FALSE(one_waiting.submit([&] { ++ran; }));  // a worker busy, the queue full
    CHECK(one_waiting.waiting() == 1);
    hold.unlock();
    while (one_waiting.waiting() != 0 || one_waiting.running() != 0) std::this_thread::yield();
    CHECK(ran.load() == 3);

    // A queue is memory, not threads: a queue of 100,000 makes no thread beyond the workers.
    const auto threads = [] {
        std::size_t n = 0;
        for ([[maybe_unused]] const auto& e : std::filesystem::directory_iterator("/proc/self/task")) ++n;
        return n;
    };
    const std::size_t before = threads();
    {
        WorkQueue big(2, 100000);
        CHECK(threads() == before + 2);
    }
    CHECK(threads() == before);
}
