#include "kernels/threads.hpp"

#include <fmt/format.h>
#include <sys/mman.h>

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

namespace detail {
// OpenBLAS (0.3.21) maps a work buffer of 128 MB (BUFFER_SIZE, 32 << 22) for each thread that
// multiplies and keeps it; when the system refuses the map (an address-space limit, ulimit -v), it
// tries again for ever, and the program spins instead of failing. So before OpenBLAS is asked for
// buffers (a thread count raised; the first product), the same room is asked of the system here,
// without touching it, and a refusal is OutOfMemory: a one-line error.
void check_blas_room(int buffers) {
    constexpr std::size_t kBuffer = std::size_t{128} << 20;
    const std::size_t bytes = kBuffer * static_cast<std::size_t>(buffers);
    void* room = ::mmap(nullptr, bytes, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (room == MAP_FAILED)
        throw OutOfMemory(fmt::format("out of memory: OpenBLAS needs {} MB of address space for the work buffers of {} "
                                      "thread{}, and the system refused it (an address-space limit? ulimit -v)",
                                      bytes >> 20, buffers, buffers == 1 ? "" : "s"));
    ::munmap(room, bytes);
}
}  // namespace detail

void set_num_threads(int n) {
    if (n < 1) throw Error(fmt::format("set_num_threads: {} threads; need at least 1", n));
    if (n > threads()) detail::check_blas_room(n - threads());  // OpenBLAS starts a thread, and its buffer, for each more
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
