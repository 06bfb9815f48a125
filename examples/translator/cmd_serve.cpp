// translator serve: the attention explorer (one self-contained page) and a JSON translation API,
// over cpp-httplib. The API itself is api.cpp; this file is HTTP: where it listens, body limits,
// connection threads, and stopping cleanly on SIGINT or SIGTERM.
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <httplib.h>
#include <signal.h>
#include <unistd.h>

#include <csignal>

#include <cstring>
#include <filesystem>
#include <thread>

#include "api.hpp"
#include "args.hpp"
#include "commands.hpp"
#include "kernels/threads.hpp"

namespace translator {

// The page: examples/translator/serve_page.html, embedded at build time (serve_page.inc); training's
// page too (train_watch.cpp), which it becomes when GET /api/training answers.
extern const char kServePage[];
const char kServePage[] =
#include "serve_page.inc"
    ;

namespace {


// httplib's connection pool, bounded: beyond `threads` busy and `pending` waiting, the listening
// thread runs the connection itself, which stops it accepting more until one is done (the kernel's
// backlog holds the rest): memory never grows with the number of clients.
class BoundedQueue : public httplib::TaskQueue {
public:
    BoundedQueue(std::size_t threads, std::size_t pending) : pool_(threads), limit_(pending) {}
    void enqueue(std::function<void()> fn) override {
        if (pending_.load() >= limit_) {
            fn();
            return;
        }
        ++pending_;
        pool_.enqueue([this, fn = std::move(fn)] {
            --pending_;
            fn();
        });
    }
    void shutdown() override { pool_.shutdown(); }

private:
    httplib::ThreadPool pool_;
    std::size_t limit_;
    std::atomic<std::size_t> pending_{0};
};

int stop_pipe[2] = {-1, -1};  // SIGINT and SIGTERM write to it

}  // namespace

int cmd_serve(const Argv& argv_in) {
    // --checkpoint may be given twice (two models side by side): taken out before Args reads the rest.
    Argv argv;
    std::vector<std::string> checkpoints;
    for (std::size_t i = 0; i < argv_in.size(); ++i) {
        const std::string& a = argv_in[i];
        if (a == "--checkpoint" && i + 1 < argv_in.size()) checkpoints.push_back(argv_in[++i]);
        else if (a.rfind("--checkpoint=", 0) == 0) checkpoints.push_back(a.substr(std::strlen("--checkpoint=")));
        else argv.push_back(a);
    }
    Args args("serve", "--checkpoint DIR [--checkpoint DIR2] [--host 127.0.0.1] [--port N]",
              {{"--checkpoint", "DIR", "a model to serve; given twice, both side by side", ""},
               {"--host", "ADDRESS", "the address to listen on (127.0.0.1: this machine only; 0.0.0.0: every network)", "127.0.0.1"},
               {"--port", "N", "the port (0: any free one, printed)", "8080"},
               {"--max-words", "N", "refuse a source of more than N words (400)", "100"},
               {"--max-body", "BYTES", "refuse a request body larger than this (413)", "65536"},
               {"--workers", "N", "requests translated at once", "2"},
               {"--queue", "N", "requests waiting for a worker; beyond them, 503", "16"}},
              argv);
    if (checkpoints.empty()) throw UsageError("--checkpoint: required (a model to serve)");
    if (checkpoints.size() > 2) throw UsageError(fmt::format("--checkpoint: given {} times; at most 2 models side by side", checkpoints.size()));
    const auto port = static_cast<int>(args.integer("--port", 0, 65535));
    ApiLimits limits;
    limits.max_words = static_cast<std::size_t>(args.integer("--max-words", 1, 10000));
    limits.workers = static_cast<std::size_t>(args.integer("--workers", 1, 64));
    limits.queue = static_cast<std::size_t>(args.integer("--queue", 0, 10000));
    const auto max_body = static_cast<std::size_t>(args.integer("--max-body", 64, 1 << 26));
    tg::set_num_threads(1);  // each worker decodes on one core; --workers of them at once

    std::vector<ServedModel> models;
    models.reserve(checkpoints.size());
    for (const std::string& dir : checkpoints) {
        LoadedModel m = load_model(dir);
        tg::PackedWeight packed(m.model->output_weight().value());
        models.push_back({std::filesystem::path(dir).lexically_normal().filename().string(), std::move(m), std::move(packed)});
        if (models.back().name.empty()) models.back().name = dir;
    }
    Api api(models, limits);

    // SIGINT and SIGTERM: the handler writes a byte to a pipe (all a handler may safely do, in
    // whichever thread it runs); one thread waits on the pipe and stops the server.
    if (::pipe(stop_pipe) != 0) throw tg::Error(fmt::format("serve: pipe: {}", std::strerror(errno)));
    struct sigaction on_stop {};
    on_stop.sa_handler = [](int) {
        const char byte = 1;
        if (::write(stop_pipe[1], &byte, 1) < 0) {}
    };
    sigemptyset(&on_stop.sa_mask);
    sigaction(SIGINT, &on_stop, nullptr);
    sigaction(SIGTERM, &on_stop, nullptr);

    httplib::Server server;
    server.new_task_queue = [&] { return new BoundedQueue(limits.workers + limits.queue + 2, 64); };
    server.set_payload_max_length(max_body);
    server.set_read_timeout(10, 0);
    server.set_write_timeout(10, 0);
    auto reply = [](httplib::Response& res, const ApiResponse& a) {
        res.status = a.status;
        res.set_content(a.body, "application/json");
    };
    server.Get("/", [](const httplib::Request&, httplib::Response& res) { res.set_content(kServePage, "text/html; charset=utf-8"); });
    server.Get("/api/.*", [&](const httplib::Request& req, httplib::Response& res) { reply(res, api.handle("GET", req.path, req.body)); });
    server.Post("/api/.*", [&](const httplib::Request& req, httplib::Response& res) { reply(res, api.handle("POST", req.path, req.body)); });
    // Whatever httplib answers itself (413 for a body over the limit, 404 for another path, 400 for
    // a malformed request) gets a one-line JSON error too.
    server.set_error_handler([&](const httplib::Request& req, httplib::Response& res) {
        if (!res.body.empty()) return;
        std::string why = res.status == 413 ? fmt::format("the body is over {} bytes (--max-body)", max_body)
                        : res.status == 404 ? "no such path; the page is GET /, the API GET /api/models and POST /api/translate"
                                            : "a malformed request";
        res.set_content(Api::error_body(fmt::format("{} {}: {}", req.method, req.path, why)), "application/json");
    });
    server.set_exception_handler([](const httplib::Request& req, httplib::Response& res, std::exception_ptr e) {
        std::string what = "internal error";
        try {
            std::rethrow_exception(e);
        } catch (const std::exception& x) {
            what = x.what();
        } catch (...) {
        }
        res.status = 500;
        res.set_content(Api::error_body(fmt::format("{} {}: {}", req.method, req.path, what)), "application/json");
    });

    const std::string host = args.text("--host");
    const int bound = port == 0 ? server.bind_to_any_port(host) : (server.bind_to_port(host, port) ? port : -1);
    if (bound < 0) throw UsageError(fmt::format("--host {} --port {}: cannot listen there ({})", host, port, std::strerror(errno)));
    std::thread stopper([&] {
        char byte = 0;
        while (::read(stop_pipe[0], &byte, 1) < 0 && errno == EINTR) {}
        server.stop();
    });
    fmt::print("serving {} on http://{}:{}/ ({}; Ctrl-C stops)\n", fmt::join(checkpoints, " and "), host, bound,
               host == "127.0.0.1" || host == "localhost" ? "this machine only" : "reachable from the network");
    std::fflush(stdout);
    const bool ok = server.listen_after_bind();
    const char byte = 0;
    if (::write(stop_pipe[1], &byte, 1) < 0) {}  // wakes the stopper if the server ended otherwise
    stopper.join();
    std::signal(SIGINT, SIG_DFL);
    std::signal(SIGTERM, SIG_DFL);
    if (!ok) throw tg::Error(fmt::format("serve: the server on {}:{} stopped with an error", host, bound));
    fmt::print("stopped\n");
    return 0;
}

}  // namespace translator
