#include "kernels/threads.hpp"

#include <fmt/format.h>

#include <condition_variable>
#include <cstdlib>
#include <mutex>
#include <thread>
#include <vector>

#include "autograd/error.hpp"

// From OpenBLAS (its own header, not <cblas.h>'s standard prototypes).
extern "C" void openblas_set_num_threads(int num_threads);

namespace tg {

namespace {
// One thread unless the user asked OpenBLAS for more through its environment variable: decided on
// first use (a function's static, not a global's initialiser, so no file's start-up depends on another's).
int& threads() {
    static int n = [] {
        const char* env = std::getenv("OPENBLAS_NUM_THREADS");
        int k = env ? std::atoi(env) : 0;
        if (k < 1) {
            k = 1;
            openblas_set_num_threads(1);
        }
        return k;
    }();
    return n;
}
}  // namespace

void set_num_threads(int n) {
    if (n < 1) throw Error(fmt::format("set_num_threads: {} threads; need at least 1", n));
    threads() = n;
    openblas_set_num_threads(n);
}

int num_threads() { return threads(); }

namespace {
// The helper threads of parallel_for: each waits for a new job, takes parts until none is left,
// and reports when it has finished its last.
class Helpers {
public:
    ~Helpers() {
        {
            std::lock_guard lock(mutex_);
            stop_ = true;
        }
        wake_.notify_all();
        for (std::thread& t : threads_) t.join();
    }

    std::mutex in_use;  // one job at a time; a caller that finds it taken runs its job alone

    void run(std::size_t parts, std::size_t helpers, void (*call)(void*, std::size_t), void* job) {
        std::unique_lock lock(mutex_);
        while (threads_.size() < helpers) threads_.emplace_back([this] { serve(); });
        call_ = call;
        job_ = job;
        parts_ = parts;
        next_ = 0;
        done_ = 0;
        const std::uint64_t gen = ++generation_;
        lock.unlock();
        wake_.notify_all();
        take_parts(gen);
        lock.lock();
        finished_.wait(lock, [&] { return done_ == parts_; });
        job_ = nullptr;
    }

private:
    // Parts of the job of generation `gen` until none is left. A helper that wakes late may find a
    // later job running: it takes nothing of it, since it knows that job's generation only when woken
    // for it. (The job stays alive while a part of it runs: run() waits for every part.)
    void take_parts(std::uint64_t gen) {
        for (;;) {
            std::size_t i;
            void (*call)(void*, std::size_t);
            void* job;
            {
                std::lock_guard lock(mutex_);
                if (generation_ != gen || next_ == parts_) return;
                i = next_++;
                call = call_;
                job = job_;
            }
            call(job, i);
            std::lock_guard lock(mutex_);
            if (++done_ == parts_) finished_.notify_all();
        }
    }
    void serve() {
        std::uint64_t seen = 0;
        for (;;) {
            {
                std::unique_lock lock(mutex_);
                wake_.wait(lock, [&] { return stop_ || generation_ != seen; });
                if (stop_) return;
                seen = generation_;
            }
            take_parts(seen);
        }
    }

    std::mutex mutex_;
    std::condition_variable wake_, finished_;
    std::vector<std::thread> threads_;
    void (*call_)(void*, std::size_t) = nullptr;
    void* job_ = nullptr;
    std::size_t parts_ = 0, next_ = 0, done_ = 0;
    std::uint64_t generation_ = 0;
    bool stop_ = false;
};
}  // namespace

void detail::parallel_for_impl(std::size_t parts, void (*call)(void*, std::size_t), void* job) {
    static Helpers helpers;
    const std::size_t n = std::min<std::size_t>(parts, static_cast<std::size_t>(num_threads()));
    if (n <= 1) {
        for (std::size_t i = 0; i < parts; ++i) call(job, i);
        return;
    }
    std::unique_lock lock(helpers.in_use, std::try_to_lock);
    if (!lock.owns_lock()) {
        for (std::size_t i = 0; i < parts; ++i) call(job, i);
        return;
    }
    helpers.run(parts, n - 1, call, job);
}

}  // namespace tg
