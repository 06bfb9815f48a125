// Counts heap allocations made by this thread (operator new is replaced in alloc_counter.cpp).
#pragma once
#include <cstddef>

namespace tg::test {
std::size_t allocations();  // allocations so far on this thread
}
