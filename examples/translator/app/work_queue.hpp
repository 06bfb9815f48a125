// The server's translators: `workers` threads made once, at start, and a queue of at most `queue`
// requests waiting for one. A queue is memory (a request each), never threads; beyond it a request
// is turned away at once (503), so memory and latency stay bounded under any load.
#pragma once
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace translator {

class WorkQueue {
public:
    // Throws tg::Error when a thread cannot be made (a low ulimit, a container's pids limit).
    WorkQueue(std::size_t workers, std::size_t queue);
    ~WorkQueue();  // what waits is dropped; what runs finishes (it should check stopping())
    WorkQueue(const WorkQueue&) = delete;
    WorkQueue& operator=(const WorkQueue&) = delete;

    bool submit(std::function<void()> job);  // false: the queue is full
    void stop();                              // drops what waits; stopping() turns true
    bool stopping() const;
    std::size_t running() const;
    std::size_t waiting() const;

private:
    void work();
    std::size_t capacity_;
    mutable std::mutex mutex_;
    std::condition_variable ready_;
    std::deque<std::function<void()>> jobs_;
    std::size_t running_ = 0;
    bool stopping_ = false;
    std::vector<std::thread> threads_;
};

}  // namespace translator
