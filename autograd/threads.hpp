// How many threads tapegrad may use: OpenBLAS's threads, and tapegrad's own, which split a large
// matrix product between them (autograd/gemm_avx512.cpp); everything else is single-threaded today.
#pragma once
#include <cstddef>
#include <functional>

namespace tg {

// Sets the number of threads of OpenBLAS (and of tapegrad). The default is 1: on the small matrices
// of the examples a second thread rarely pays for its synchronisation.
void set_num_threads(int n);
int num_threads();

namespace detail {
// Runs job(0), ..., job(parts - 1) and returns when all are done: on this thread and up to
// num_threads() - 1 helper threads, started on first use and kept (a product split in two halves
// must not pay for starting a thread). `job` must not throw. Runs everything on this thread when
// there is one thread, one part, or another thread is already using the helpers.
void parallel_for(std::size_t parts, const std::function<void(std::size_t)>& job);
}  // namespace detail

}  // namespace tg
