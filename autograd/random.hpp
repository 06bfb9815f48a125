// A seeded random generator, so that initialisation and data are reproducible from one number.
#pragma once
#include <cstdint>
#include <random>

namespace tg {

class Generator {
public:
    explicit Generator(std::uint64_t seed = 0) : engine_(seed) {}
    void seed(std::uint64_t s) { engine_.seed(s); }
    float uniform(float low = 0.0f, float high = 1.0f);  // in [low, high)
    float normal(float mean = 0.0f, float stddev = 1.0f);
    std::uint64_t next_u64() { return engine_(); }

private:
    std::mt19937_64 engine_;
};

}  // namespace tg
