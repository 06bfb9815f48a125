#include "train_watch.hpp"

#include <fmt/format.h>

#include <cmath>
#include <cstring>
#include <ctime>
#include <system_error>
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
    points_.push_back(text_of({{"step", p.step}, {"seconds", std::round(p.seconds * 10) / 10}, {"loss", p.loss}}));
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
    validations_.push_back(text_of({{"step", r.step}, {"seconds", std::round(r.seconds * 10) / 10}, {"valid_loss", r.valid_loss},
                                    {"bleu", r.bleu}, {"chrf", r.chrf}}));
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

namespace {

std::string joined(const std::vector<std::string>& items, std::size_t from) {
    std::string out;
    for (std::size_t i = from; i < items.size(); ++i) out += (i > from ? "," : "") + items[i];
    return out;
}

}  // namespace

std::string TrainingView::state_json() const {
    std::lock_guard lock(mutex_);
    return fmt::format("{{\"training\": true, \"title\": {}, \"finished\": {}, \"version\": {}, \"points\": [{}], "
                       "\"validations\": [{}], \"attention\": {}}}",
                       text_of(title_), finished_, version_, joined(points_, 0), joined(validations_, 0), attention_);
}

bool TrainingView::has_news(std::size_t points, std::size_t validations) const {
    std::lock_guard lock(mutex_);
    return finished_ || points < points_.size() || validations < validations_.size();
}

std::string TrainingView::news_json(std::size_t points, std::size_t validations) const {
    std::lock_guard lock(mutex_);
    return fmt::format("{{\"finished\": {}, \"version\": {}, \"points\": [{}], \"validations\": [{}], \"attention\": {}}}",
                       finished_, version_, joined(points_, std::min(points, points_.size())),
                       joined(validations_, std::min(validations, validations_.size())),
                       validations < validations_.size() ? attention_ : "null");
}

std::uint64_t TrainingView::wait_newer(std::uint64_t seen, std::chrono::milliseconds timeout) {
    std::unique_lock lock(mutex_);
    changed_.wait_for(lock, timeout, [&] { return version_ > seen || finished_; });
    return version_;
}

struct TrainingServer::Waiting {
    std::shared_ptr<http::Deferred> page;
    std::size_t points, validations;
    std::chrono::steady_clock::time_point until;
};

TrainingServer::TrainingServer(TrainingView& view, const std::string& host, int port, std::size_t pages) : view_(view) {
    http::Limits limits;
    limits.max_body = 4096;
    limits.max_connections = pages + 64;
    auto handle = [this, pages](const http::Request& req, const std::shared_ptr<http::Deferred>& page) -> std::optional<http::Reply> {
        if (req.method == "GET" && req.path == "/") return http::Reply{200, kServePage, "text/html; charset=utf-8"};
        const double start = seconds_on(CLOCK_THREAD_CPUTIME_ID);
        if (req.method == "GET" && req.path == "/api/training") {
            http::Reply r{200, view_.state_json()};
            view_.add_server_cpu(seconds_on(CLOCK_THREAD_CPUTIME_ID) - start, false);
            return r;
        }
        if (req.method == "GET" && req.path == "/api/updates") {
            std::size_t have[2] = {0, 0};
            const char* names[2] = {"points", "validations"};
            for (int k = 0; k < 2; ++k) {
                const auto it = req.query.find(names[k]);
                const std::string v = it == req.query.end() ? "" : it->second;
                char* end = nullptr;
                errno = 0;
                have[k] = std::strtoull(v.c_str(), &end, 10);
                if (v.empty() || *end != '\0' || errno != 0 || v[0] == '-')
                    return http::error(400, fmt::format("{}: '{}' must be a count (how many the page has), not '{}'", req.where(),
                                                        names[k], v.substr(0, 40)));
            }
            if (view_.has_news(have[0], have[1])) {
                http::Reply r{200, view_.news_json(have[0], have[1])};
                view_.add_server_cpu(seconds_on(CLOCK_THREAD_CPUTIME_ID) - start, true);
                return r;
            }
            std::lock_guard lock(mutex_);
            if (waiting_.size() >= pages)
                return http::error(503, fmt::format("{}: {} pages are waiting for news already; ask again later", req.where(), pages));
            waiting_.push_back({page, have[0], have[1], std::chrono::steady_clock::now() + std::chrono::seconds(15)});
            return std::nullopt;
        }
        return http::error(404, fmt::format("{}: no such path; training's page is GET /, its data GET /api/training and "
                                            "GET /api/updates?points=P&validations=V", req.where()));
    };
    server_ = std::make_unique<http::Server>(host, port, limits, handle);
    try {
        thread_ = std::thread([this] { answer_waiting(); });
    } catch (const std::system_error& e) {
        server_.reset();
        throw tg::Error(fmt::format("--serve: cannot start its thread ({})", e.what()));
    }
}

// One thread for every waiting page: it wakes when the view changes (or every 250 ms) and answers
// the pages that now have news, or that waited 15 s (an empty answer: the page asks again).
void TrainingServer::answer_waiting() {
    std::uint64_t seen = 0;
    for (;;) {
        seen = view_.wait_newer(seen, std::chrono::milliseconds(250));
        std::vector<Waiting> ready;
        {
            std::lock_guard lock(mutex_);
            if (stopping_) return;
            const auto now = std::chrono::steady_clock::now();
            for (std::size_t i = 0; i < waiting_.size();) {
                const Waiting& w = waiting_[i];
                if (view_.has_news(w.points, w.validations) || w.until <= now || w.page->client_gone()) {
                    ready.push_back(std::move(waiting_[i]));
                    waiting_[i] = std::move(waiting_.back());
                    waiting_.pop_back();
                } else {
                    ++i;
                }
            }
        }
        for (Waiting& w : ready) {
            const double start = seconds_on(CLOCK_THREAD_CPUTIME_ID);
            w.page->reply({200, view_.news_json(w.points, w.validations)});
            view_.add_server_cpu(seconds_on(CLOCK_THREAD_CPUTIME_ID) - start, true);
        }
    }
}

TrainingServer::~TrainingServer() {
    {
        std::lock_guard lock(mutex_);
        stopping_ = true;
    }
    if (thread_.joinable()) thread_.join();
    {  // the pages still waiting get what is new (training has finished by now: finished is true)
        std::lock_guard lock(mutex_);
        for (Waiting& w : waiting_) w.page->reply({200, view_.news_json(w.points, w.validations)});
    }
    server_.reset();
}

int TrainingServer::port() const { return server_->port(); }
std::string TrainingServer::url() const { return server_->url(); }

}  // namespace translator
