// translator serve: the attention explorer (one self-contained page) and a JSON translation API.
// The API itself is api.cpp and HTTP is http_server.cpp; this file wires them: the options, the
// worker threads that translate, and stopping cleanly on SIGINT or SIGTERM.
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <signal.h>
#include <sys/resource.h>
#include <unistd.h>

#include <atomic>
#include <cstdint>
#include <csignal>
#include <cstring>
#include <filesystem>
#include <optional>

#include "api.hpp"
#include "args.hpp"
#include "commands.hpp"
#include "decode.hpp"
#include "http_server.hpp"
#include "kernels/threads.hpp"
#include "work_queue.hpp"

namespace translator {

// The page: examples/translator/serve_page.html, embedded at build time (serve_page.inc); training's
// page too (train_watch.cpp), which it becomes when GET /api/training answers.
extern const char kServePage[];
const char kServePage[] =
#include "serve_page.inc"
    ;

namespace {

int stop_pipe[2] = {-1, -1};  // SIGINT and SIGTERM write to it

// Every connection is a file descriptor: the soft limit (often 1,024) is raised to the hard one.
// Returns how many connections the limit then leaves room for.
std::size_t connections_possible() {
    rlimit r{};
    if (getrlimit(RLIMIT_NOFILE, &r) != 0) return SIZE_MAX;
    if (r.rlim_cur < r.rlim_max) {
        r.rlim_cur = r.rlim_max;
        setrlimit(RLIMIT_NOFILE, &r);
        getrlimit(RLIMIT_NOFILE, &r);
    }
    const rlim_t spare = 64;  // the model's files, the pipes, the listening socket
    if (r.rlim_cur == RLIM_INFINITY) return SIZE_MAX;
    return r.rlim_cur > spare ? static_cast<std::size_t>(r.rlim_cur - spare) : 0;
}

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
               {"--host", "ADDRESS", "the address to listen on (127.0.0.1: this machine only; 0.0.0.0 or '::': every network)", "127.0.0.1"},
               {"--port", "N", "the port (0: any free one, printed)", "8080"},
               {"--max-words", "N", "refuse a source of more than N words (400; at most 1000)", "100"},
               {"--max-pieces", "N", "refuse a source the model reads as more than N pieces (400; at most 2048): with the words, what bounds a request's memory", "512"},
               {"--max-body", "BYTES", "refuse a request body larger than this, however sent (413)", "65536"},
               {"--workers", "N", "requests translated at once (a thread each)", "2"},
               {"--queue", "N", "requests waiting for a worker (memory, not threads); beyond them, 503", "16"},
               {"--max-connections", "N", "connections open at once; beyond them new ones are closed", "1000"},
               {"--request-timeout", "SECONDS", "a request must arrive whole within this; an idle connection is closed after it", "10"}},
              argv);
    if (checkpoints.empty()) throw UsageError("--checkpoint: required (a model to serve)");
    if (checkpoints.size() > 2) throw UsageError(fmt::format("--checkpoint: given {} times; at most 2 models side by side", checkpoints.size()));
    const auto port = static_cast<int>(args.integer("--port", 0, 65535));
    const std::string host = args.text("--host");
    if (host.empty()) throw UsageError("--host: empty; give an address (127.0.0.1: this machine only; 0.0.0.0 or '::': every network)");
    ApiLimits limits;
    limits.max_words = static_cast<std::size_t>(args.integer("--max-words", 1, 1000));
    limits.max_pieces = static_cast<std::size_t>(args.integer("--max-pieces", 1, 2048));
    const auto workers = static_cast<std::size_t>(args.integer("--workers", 1, 64));
    const auto queue = static_cast<std::size_t>(args.integer("--queue", 0, 100000));
    http::Limits http_limits;
    http_limits.max_body = static_cast<std::size_t>(args.integer("--max-body", 64, 1 << 26));
    http_limits.max_connections = static_cast<std::size_t>(args.integer("--max-connections", 1, 100000));
    http_limits.request_seconds = static_cast<unsigned>(args.integer("--request-timeout", 1, 3600));
    if (const std::size_t most = connections_possible(); most < http_limits.max_connections)
        throw UsageError(fmt::format("--max-connections {}: the open-file limit (ulimit -n) leaves room for {}; give at most {}",
                                     http_limits.max_connections, most, most));
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
    // whichever thread it runs); this thread waits on the pipe, then stops the server. Set before
    // any thread is made, so that a server that cannot start can still be stopped.
    if (::pipe(stop_pipe) != 0) throw tg::Error(fmt::format("serve: pipe: {}", std::strerror(errno)));
    struct sigaction on_stop {};
    on_stop.sa_handler = [](int) {
        const char byte = 1;
        if (::write(stop_pipe[1], &byte, 1) < 0) {}
    };
    sigemptyset(&on_stop.sa_mask);
    sigaction(SIGINT, &on_stop, nullptr);
    sigaction(SIGTERM, &on_stop, nullptr);
    struct RestoreSignals {
        ~RestoreSignals() {
            std::signal(SIGINT, SIG_DFL);
            std::signal(SIGTERM, SIG_DFL);
        }
    } restore;

    // Translations run on the workers; the server's thread only reads requests and writes answers.
    WorkQueue translators(workers, queue);
    std::atomic<std::uint64_t> answered{0}, busy{0}, cancelled{0};  // for GET /api/status
    auto handle = [&](const http::Request& req, const std::shared_ptr<http::Deferred>& deferred) -> std::optional<http::Reply> {
        if (req.path == "/" && req.method == "GET") return http::Reply{200, kServePage, "text/html; charset=utf-8"};
        if (req.path == "/api/status" && req.method == "GET")  // what the server is doing, for whoever runs it
            return http::Reply{200, fmt::format(R"({{"translating": {}, "waiting": {}, "answered": {}, "busy": {}, "cancelled": {}}})",
                                                translators.running(), translators.waiting(), answered.load(), busy.load(),
                                                cancelled.load())};
        if (req.path.rfind("/api/", 0) != 0)
            return http::error(404, req.where() + ": no such path; the page is GET /, the API GET /api/models, POST /api/translate and GET /api/status");
        if (req.path != "/api/translate" || req.method != "POST") {
            const ApiResponse a = api.handle(req.method, req.path, req.body);  // quick: answered on the server's thread
            return http::Reply{a.status, a.body};
        }
        const bool queued = translators.submit([&, req, deferred] {
            const auto stop = [&] { return translators.stopping() || deferred->client_gone(); };
            try {
                const ApiResponse a = api.handle(req.method, req.path, req.body, stop);
                deferred->reply({a.status, a.body});
                ++answered;
            } catch (const DecodeCancelled&) {
                deferred->reply(http::error(503, req.where() + ": cancelled (the client left, or the server is stopping)"));
                ++cancelled;
            } catch (const std::exception& e) {
                deferred->reply(http::error(500, req.where() + ": " + e.what()));
            }
        });
        if (queued) return std::nullopt;
        ++busy;
        return http::error(503, fmt::format("{}: busy ({} translating, {} waiting; --workers {}, --queue {}); try again",
                                            req.where(), translators.running(), translators.waiting(), workers, queue));
    };
    std::optional<http::Server> server;
    try {
        server.emplace(host, port, http_limits, handle);
    } catch (const http::ListenError& e) {
        throw UsageError(fmt::format("--host {} --port {}: {}", host, port, e.what()));
    }
    fmt::print("serving {} on {} ({}; Ctrl-C stops)\n", fmt::join(checkpoints, " and "), server->url(),
               server->loopback() ? "this machine only" : "reachable from the network");
    std::fflush(stdout);
    char byte = 0;
    while (::read(stop_pipe[0], &byte, 1) < 0 && errno == EINTR) {}
    translators.stop();  // what waits is dropped, what runs sees it is cancelled
    fmt::print("stopped\n");
    return 0;
}

}  // namespace translator
