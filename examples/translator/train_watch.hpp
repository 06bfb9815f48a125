// translator train --serve PORT: the explorer's page in training mode. The learning curves (training
// loss, validation loss, BLEU and chrF) and the attention of a few fixed validation sentences, pushed
// to the page after each validation (server-sent events), so the diagonal can be seen forming.
// TrainingView collects them from the training hooks (on the training thread: a lock and a few
// numbers a step); TrainingServer carries them over HTTP on threads of its own.
#pragma once
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "training.hpp"

namespace httplib {
class Server;
}

namespace translator {

class TrainingView {
public:
    explicit TrainingView(std::size_t sentences = 3) : sentences_(sentences) {}
    void on_message(const std::string& text);                            // "model: ..." becomes the title
    void on_progress(const TrainProgress& p);                            // a loss point at most every second
    void on_validation(const EpochReport& report, const TrainWatch& w);  // curves and attention
    void finish();                                                       // training is over: streams end
    std::string state_json() const;                                      // all of it, for GET /api/training
    // Waits until there is more than `seen` (or `timeout`); returns the version now (finished() tells the end).
    std::uint64_t wait_newer(std::uint64_t seen, std::chrono::milliseconds timeout);
    bool finished() const;

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
    std::string points_, validations_, attention_ = "[]";  // JSON arrays' insides, and the last snapshot
    Cost cost_;
};

class TrainingServer {
public:
    // Listens on host:port (0: any free port) and serves until destroyed.
    TrainingServer(TrainingView& view, const std::string& host, int port);
    ~TrainingServer();
    TrainingServer(const TrainingServer&) = delete;
    TrainingServer& operator=(const TrainingServer&) = delete;
    int port() const { return port_; }

private:
    std::unique_ptr<httplib::Server> server_;
    std::thread thread_;
    int port_ = -1;
};

}  // namespace translator
