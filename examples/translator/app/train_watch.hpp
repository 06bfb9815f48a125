// translator train --serve PORT: the explorer's page in training mode. The learning curves (training
// loss, validation loss, BLEU and chrF) and the attention of a few fixed validation sentences, sent to
// the page after each validation, so the diagonal can be seen forming. TrainingView collects them from
// the training hooks (on the training thread: a lock and a few numbers a step); TrainingServer carries
// them over HTTP (http_server.hpp): a page fetches the whole history once (GET /api/training), then
// asks for what is new (GET /api/updates?points=P&validations=V, answered when there is news or after
// 15 s): each answer is what the page does not have, and a waiting page holds no thread.
#pragma once
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "http_server.hpp"
#include "training.hpp"

namespace translator {

class TrainingView {
public:
    explicit TrainingView(std::size_t sentences = 3) : sentences_(sentences) {}
    void on_message(const std::string& text);                            // "model: ..." becomes the title
    void on_progress(const TrainProgress& p);                            // a loss point at most every second
    void on_validation(const EpochReport& report, const TrainWatch& w);  // curves and attention
    void finish();                                                       // training is over: streams end
    std::string state_json() const;                                      // all of it, for GET /api/training
    // What a page that has `points` loss points and `validations` validations lacks (GET /api/updates).
    bool has_news(std::size_t points, std::size_t validations) const;
    std::string news_json(std::size_t points, std::size_t validations) const;
    // Waits until there is more than `seen`, or training has finished (or `timeout`); returns the version now.
    std::uint64_t wait_newer(std::uint64_t seen, std::chrono::milliseconds timeout);

    // What watching costs training, measured rather than argued: the time the hooks above took on the
    // training thread, and the CPU time the server's threads spent building and sending the page's data.
    struct Cost {
        double training_thread_seconds = 0, server_cpu_seconds = 0;
        std::uint64_t events_sent = 0;
    };
    Cost cost() const;
    void add_server_cpu(double seconds, bool event);  // for TrainingServer's handlers

private:
    struct TrainingThreadMeter;  // adds its scope's wall time to cost_.training_thread_seconds
    std::size_t sentences_;
    mutable std::mutex mutex_;
    std::condition_variable changed_;
    std::uint64_t version_ = 0;
    bool finished_ = false;
    double last_point_ = -1;
    std::string title_;
    std::vector<std::string> points_, validations_;  // each a JSON object
    std::string attention_ = "[]";                   // the last validation's snapshot
    Cost cost_;
};

class TrainingServer {
public:
    // Listens on host:port (0: any free port) and serves until destroyed; at most `pages` pages wait
    // for news at once (more: 503). Throws http::ListenError when the port is taken.
    TrainingServer(TrainingView& view, const std::string& host, int port, std::size_t pages = 64);
    ~TrainingServer();
    TrainingServer(const TrainingServer&) = delete;
    TrainingServer& operator=(const TrainingServer&) = delete;
    int port() const;
    std::string url() const;

private:
    struct Waiting;
    void answer_waiting();  // on its own thread: answers the pages that have news (or waited 15 s)
    TrainingView& view_;
    std::mutex mutex_;
    std::vector<Waiting> waiting_;
    bool stopping_ = false;
    std::unique_ptr<http::Server> server_;
    std::thread thread_;
};

}  // namespace translator
