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

#include <cmath>
#include <filesystem>

#include "io/npy.hpp"

namespace tg::test {

// A PyTorch reference value from tests/fixtures/<test_case>/<name>.npy (see make_fixtures.py).
inline Tensor fixture(const std::string& test_case, const std::string& name) {
    return load_npy(std::filesystem::path(TG_FIXTURES) / test_case / (name + ".npy"));
}

// "" when |actual - expected| <= atol + rtol * |expected| everywhere, else the worst element.
inline std::string mismatch(const Tensor& actual, const Tensor& expected, float rtol = 1e-5f, float atol = 1e-6f) {
    if (!(actual.shape() == expected.shape()))
        return "shape " + actual.shape().str() + " vs expected " + expected.shape().str();
    float worst = 0.0f;
    std::size_t at = 0;
    for (std::size_t i = 0; i < actual.numel(); ++i) {
        const float a = actual.data()[i], e = expected.data()[i];
        const float excess = std::fabs(a - e) - (atol + rtol * std::fabs(e));
        if (!(excess <= worst)) worst = excess, at = i;  // catches NaN too
    }
    if (worst <= 0.0f) return "";
    return "element " + std::to_string(at) + ": " + std::to_string(actual.data()[at]) + " vs expected " +
           std::to_string(expected.data()[at]);
}

#define CHECK_CLOSE(actual, expected, ...)                                               \
    do {                                                                                 \
        const std::string why_ = ::tg::test::mismatch(actual, expected, ##__VA_ARGS__);  \
        CHECK_MESSAGE(why_.empty(), #actual << ": " << why_);                            \
    } while (0)

}  // namespace tg::test
