#include "autograd/threads.hpp"

#include <fmt/format.h>

#include <cstdlib>

#include "autograd/error.hpp"

// From OpenBLAS; declared here because <cblas.h> clashes with xtensor-blas's own prototypes.
extern "C" void openblas_set_num_threads(int num_threads);

namespace tg {

namespace {
// One thread unless the user asked OpenBLAS for more through its environment variable.
int threads = [] {
    const char* env = std::getenv("OPENBLAS_NUM_THREADS");
    int n = env ? std::atoi(env) : 0;
    if (n < 1) {
        n = 1;
        openblas_set_num_threads(1);
    }
    return n;
}();
}  // namespace

void set_num_threads(int n) {
    if (n < 1) throw Error(fmt::format("set_num_threads: {} threads; need at least 1", n));
    threads = n;
    openblas_set_num_threads(n);
}

int num_threads() { return threads; }

}  // namespace tg
