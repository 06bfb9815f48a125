#include "train_watch.hpp"

#include <fmt/format.h>
#include <httplib.h>

#include <cmath>
#include <cstring>
#include <ctime>
#include <nlohmann/json.hpp>

#include "api.hpp"
#include "decode.hpp"

namespace translator {

using json = nlohmann::json;

extern const char kServePage[];  // cmd_serve.cpp: the page, which switches to training mode by itself

namespace {

std::string text_of(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

// Seconds on a clock: the wall clock for the training thread (training waits for the hook, whatever it
// does), this thread's CPU time for the server's threads (they wait for news most of the time, and
// waiting costs training nothing).
double seconds_on(clockid_t clock) {
    timespec t{};
    clock_gettime(clock, &t);
    return static_cast<double>(t.tv_sec) + 1e-9 * static_cast<double>(t.tv_nsec);
}

}  // namespace

struct TrainingView::TrainingThreadMeter {
    TrainingView& view;
    double start = seconds_on(CLOCK_MONOTONIC);
    ~TrainingThreadMeter() {  // the scope's own lock is released by now: it was taken after this was made
        const double took = seconds_on(CLOCK_MONOTONIC) - start;
        std::lock_guard lock(view.mutex_);
        view.cost_.training_thread_seconds += took;
    }
};

void TrainingView::add_server_cpu(double seconds, bool event) {
    std::lock_guard lock(mutex_);
    cost_.server_cpu_seconds += seconds;
    cost_.events_sent += event ? 1 : 0;
}

TrainingView::Cost TrainingView::cost() const {
    std::lock_guard lock(mutex_);
    return cost_;
}

void TrainingView::on_message(const std::string& text) {
    if (text.rfind("model: ", 0) != 0) return;
    std::lock_guard lock(mutex_);
    title_ = text.substr(7);
}

void TrainingView::on_progress(const TrainProgress& p) {
    const TrainingThreadMeter meter{*this};
    std::lock_guard lock(mutex_);
    if (last_point_ >= 0 && p.seconds - last_point_ < 1.0) return;
    last_point_ = p.seconds;
    if (!points_.empty()) points_ += ',';
    points_ += text_of({{"step", p.step}, {"seconds", std::round(p.seconds * 10) / 10}, {"loss", p.loss}});
    ++version_;
    changed_.notify_all();
}

void TrainingView::on_validation(const EpochReport& r, const TrainWatch& w) {
    const TrainingThreadMeter meter{*this};
    // The attention of the first few validation pairs as the model reads their references now.
    std::vector<tg::text::EncodedPair> pairs(w.valid.begin(), w.valid.begin() + static_cast<std::ptrdiff_t>(std::min(sentences_, w.valid.size())));
    const std::vector<tg::viz::Matrix> attention = forced_attention(w.model, pairs);
    json snapshot = json::array();
    for (std::size_t k = 0; k < pairs.size() && k < attention.size(); ++k) {
        json source = json::array(), target = json::array(), rows = json::array();
        for (std::int32_t id : pairs[k].source) source.push_back(w.src_vocab.word(id));
        for (std::int32_t id : pairs[k].target) target.push_back(w.tgt_vocab.word(id));
        target.push_back("</s>");
        const tg::viz::Matrix& m = attention[k];
        for (std::size_t i = 0; i < m.rows; ++i) {
            json row = json::array();
            for (std::size_t j = 0; j < m.cols; ++j) row.push_back(std::round(m.at(i, j) * 1e4) / 1e4);
            rows.push_back(row);
        }
        snapshot.push_back({{"source", source}, {"target", target}, {"attention", rows}});
    }
    std::lock_guard lock(mutex_);
    if (!validations_.empty()) validations_ += ',';
    validations_ += text_of({{"step", r.step}, {"seconds", std::round(r.seconds * 10) / 10}, {"valid_loss", r.valid_loss},
                             {"bleu", r.bleu}, {"chrf", r.chrf}});
    attention_ = text_of({{"step", r.step}, {"sentences", snapshot}});
    ++version_;
    changed_.notify_all();
}

void TrainingView::finish() {
    std::lock_guard lock(mutex_);
    finished_ = true;
    ++version_;
    changed_.notify_all();
}

bool TrainingView::finished() const {
    std::lock_guard lock(mutex_);
    return finished_;
}

std::string TrainingView::state_json() const {
    std::lock_guard lock(mutex_);
    return fmt::format("{{\"training\": true, \"title\": {}, \"finished\": {}, \"version\": {}, \"points\": [{}], "
                       "\"validations\": [{}], \"attention\": {}}}",
                       text_of(title_), finished_, version_, points_, validations_, attention_);
}

std::uint64_t TrainingView::wait_newer(std::uint64_t seen, std::chrono::milliseconds timeout) {
    std::unique_lock lock(mutex_);
    changed_.wait_for(lock, timeout, [&] { return version_ > seen || finished_; });
    return version_;
}

TrainingServer::TrainingServer(TrainingView& view, const std::string& host, int port) : server_(std::make_unique<httplib::Server>()) {
    httplib::Server& s = *server_;
    s.new_task_queue = [] { return new httplib::ThreadPool(4); };  // the page, its stream, and a spare
    s.set_payload_max_length(4096);
    s.Get("/", [](const httplib::Request&, httplib::Response& res) { res.set_content(kServePage, "text/html; charset=utf-8"); });
    s.Get("/api/training", [&view](const httplib::Request&, httplib::Response& res) {
        const double start = seconds_on(CLOCK_THREAD_CPUTIME_ID);
        res.set_content(view.state_json(), "application/json");
        view.add_server_cpu(seconds_on(CLOCK_THREAD_CPUTIME_ID) - start, false);
    });
    // Server-sent events: the whole state after each change (a second at most between loss points);
    // a comment every 15 s keeps the connection open; the stream ends when training does.
    s.Get("/api/events", [&view](const httplib::Request&, httplib::Response& res) {
        auto seen = std::make_shared<std::uint64_t>(0);
        res.set_chunked_content_provider("text/event-stream", [&view, seen](std::size_t, httplib::DataSink& sink) {
            const std::uint64_t now = view.wait_newer(*seen, std::chrono::seconds(15));
            if (now == *seen && !view.finished()) {
                const std::string ping = ": waiting\n\n";
                return sink.write(ping.data(), ping.size());
            }
            *seen = now;
            const double start = seconds_on(CLOCK_THREAD_CPUTIME_ID);
            const std::string event = "data: " + view.state_json() + "\n\n";
            const bool sent = sink.write(event.data(), event.size());
            view.add_server_cpu(seconds_on(CLOCK_THREAD_CPUTIME_ID) - start, sent);
            if (!sent) return false;
            if (view.finished()) {
                sink.done();
                return false;
            }
            return true;
        });
    });
    s.set_error_handler([](const httplib::Request& req, httplib::Response& res) {
        if (res.body.empty())
            res.set_content(Api::error_body(fmt::format("{} {}: no such path; training's page is GET /, its data GET "
                                                        "/api/training and GET /api/events", req.method, req.path)),
                            "application/json");
    });
    port_ = port == 0 ? s.bind_to_any_port(host) : (s.bind_to_port(host, port) ? port : -1);
    if (port_ < 0) throw tg::Error(fmt::format("--serve {}: cannot listen on {}:{} ({})", port, host, port, std::strerror(errno)));
    thread_ = std::thread([&s] { s.listen_after_bind(); });
}

TrainingServer::~TrainingServer() {
    server_->stop();
    if (thread_.joinable()) thread_.join();
}

}  // namespace translator
