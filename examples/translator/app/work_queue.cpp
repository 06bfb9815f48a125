#include "work_queue.hpp"

#include <fmt/format.h>

#include <system_error>

#include "autograd/error.hpp"

namespace translator {

WorkQueue::WorkQueue(std::size_t workers, std::size_t queue) : capacity_(queue) {
    threads_.reserve(workers);
    try {
        for (std::size_t i = 0; i < workers; ++i) threads_.emplace_back([this] { work(); });
    } catch (const std::system_error& e) {
        const std::size_t made = threads_.size();
        stop();
        for (std::thread& t : threads_) t.join();
        throw tg::Error(fmt::format("cannot start {} worker threads: {} made, then '{}' (a ulimit or a pids limit?)", workers, made,
                                    e.code().message()));
    }
}

WorkQueue::~WorkQueue() {
    stop();
    for (std::thread& t : threads_) t.join();
}

bool WorkQueue::submit(std::function<void()> job) {
    {
        std::lock_guard lock(mutex_);
        if (stopping_ || jobs_.size() >= capacity_ + (threads_.size() - running_)) return false;
        jobs_.push_back(std::move(job));
    }
    ready_.notify_one();
    return true;
}

void WorkQueue::stop() {
    {
        std::lock_guard lock(mutex_);
        stopping_ = true;
        jobs_.clear();
    }
    ready_.notify_all();
}

bool WorkQueue::stopping() const {
    std::lock_guard lock(mutex_);
    return stopping_;
}

std::size_t WorkQueue::running() const {
    std::lock_guard lock(mutex_);
    return running_;
}

std::size_t WorkQueue::waiting() const {
    std::lock_guard lock(mutex_);
    return jobs_.size();
}

void WorkQueue::work() {
    std::unique_lock lock(mutex_);
    for (;;) {
        ready_.wait(lock, [&] { return stopping_ || !jobs_.empty(); });
        if (stopping_) return;
        std::function<void()> job = std::move(jobs_.front());
        jobs_.pop_front();
        ++running_;
        lock.unlock();
        job();
        lock.lock();
        --running_;
    }
}

}  // namespace translator
