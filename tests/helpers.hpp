// Small helpers shared by the tests.
#pragma once
#include <doctest/doctest.h>

#include <string>

#include "autograd/autograd.hpp"

namespace tg::test {

// A tensor of uniform values in [low, high), reproducible from `seed`.
inline Tensor rand(const Shape& s, std::uint64_t seed, float low = -1.0f, float high = 1.0f) {
    Generator g(seed);
    return Tensor::uniform(s, low, high, g);
}

// Values of magnitude in [0.2, 1) with random signs: safe for relu and max (no kinks, no ties).
inline Tensor rand_away_from_zero(const Shape& s, std::uint64_t seed) {
    Generator g(seed);
    Tensor t(s);
    for (float& v : t.flat()) v = (g.uniform() < 0.5f ? -1.0f : 1.0f) * g.uniform(0.2f, 1.0f);
    return t;
}

// Runs `statement`, expects an exception of type E whose message contains every one of `parts`.
#define CHECK_THROWS_WITH_ALL(statement, E, ...)                                              \
    do {                                                                                      \
        std::string message_;                                                                 \
        CHECK_THROWS_AS(([&] {                                                                \
                            try {                                                             \
                                statement;                                                    \
                            } catch (const E& e_) {                                           \
                                message_ = e_.what();                                         \
                                throw;                                                        \
                            }                                                                 \
                        }()),                                                                 \
                        E);                                                                   \
        for (const char* part_ : {__VA_ARGS__}) CHECK_MESSAGE(message_.find(part_) != std::string::npos, \
                                                              "'" << part_ << "' not in: " << message_); \
    } while (0)

#define CHECK_GRADS(...)                                \
    do {                                                \
        auto result_ = ::tg::gradcheck(__VA_ARGS__);    \
        CHECK_MESSAGE(result_.ok, result_.report);      \
    } while (0)

}  // namespace tg::test
