// How many threads tapegrad may use: OpenBLAS's, and tapegrad's own, which share a large product of
// kernels/gemm.cpp and decoding's packed products between them.
// Built without kernels (-Dkernels=false), everything runs on the calling thread.
#pragma once
#include <cstddef>
#include <type_traits>

namespace tg {

// Sets the number of threads of OpenBLAS (and of tapegrad). The default is 1: on the small matrices
// of the examples a second thread rarely pays for its synchronisation.
void set_num_threads(int n);
int num_threads();

namespace detail {
// Throws OutOfMemory unless the system would map `buffers` of OpenBLAS's work buffers (threads.cpp):
// OpenBLAS itself would spin for ever on the refusal.
void check_blas_room(int buffers);

// Runs job(0), ..., job(parts - 1) and returns when all are done: on this thread and up to
// num_threads() - 1 helper threads, started on first use and kept (a product split in two halves
// must not pay for starting a thread). `job` must not throw. Runs everything on this thread when
// there is one thread, one part, or another thread is already using the helpers. The job is passed
// by reference, never copied: no allocation per call (decoding calls this every step).
void parallel_for_impl(std::size_t parts, void (*call)(void* job, std::size_t part), void* job);
template <class F>
void parallel_for(std::size_t parts, F&& job) {
    using Job = std::remove_reference_t<F>;
    parallel_for_impl(parts, [](void* j, std::size_t part) { (*static_cast<Job*>(j))(part); },
                      const_cast<void*>(static_cast<const void*>(&job)));
}
}  // namespace detail

}  // namespace tg
