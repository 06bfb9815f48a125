// Counts heap allocations made by this thread (operator new is replaced in alloc_counter.cpp).
// Linked into the tests and the benchmarks, which both prove that a warmed-up step allocates nothing.
#pragma once
#include <cstddef>

namespace tg::bench {
std::size_t allocations();  // allocations so far on this thread
}
