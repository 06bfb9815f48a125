// Shape: the dimensions of a tensor, stored inline (no heap) because every op builds a few of them.
#pragma once
#include <array>
#include <concepts>
#include <cstddef>
#include <initializer_list>
#include <span>
#include <string>

#include "error.hpp"

namespace tg {

class Shape {
public:
    static constexpr int kMaxRank = 6;

    Shape() = default;  // rank 0: a scalar
    // Shape{2, 3} or Shape s = {2, 3}: any integer type; a negative size throws.
    template <std::integral... I>
    Shape(I... dims) {  // NOLINT(google-explicit-constructor): shapes are written as {2, 3}
        if (sizeof...(dims) > kMaxRank) throw ShapeError("Shape: rank above " + std::to_string(kMaxRank));
        (push_back(checked(dims)), ...);
    }
    static Shape from(std::span<const std::size_t> dims);

    int rank() const { return rank_; }
    std::size_t operator[](int axis) const { return dims_[static_cast<std::size_t>(axis)]; }
    std::size_t& operator[](int axis) { return dims_[static_cast<std::size_t>(axis)]; }
    std::size_t numel() const;
    const std::size_t* begin() const { return dims_.data(); }
    const std::size_t* end() const { return dims_.data() + rank_; }

    void push_back(std::size_t d);
    Shape without(int axis) const;                  // drop one axis
    Shape with(int axis, std::size_t size) const;   // same shape, one axis resized
    Shape inserted(int axis, std::size_t size) const;  // a new axis before `axis`

    bool operator==(const Shape& o) const;
    std::string str() const;  // "[2, 3]"

    // Turns a possibly negative axis (Python style, -1 = last) into 0..rank-1, or throws naming `op`.
    int axis(int a, const char* op) const { return normalize_axis(a, rank_, op); }
    static int normalize_axis(int a, int rank, const char* op);

private:
    template <std::integral I>
    static std::size_t checked(I d) {
        if constexpr (std::is_signed_v<I>)
            if (d < 0) throw ShapeError("Shape: negative size " + std::to_string(d));
        return static_cast<std::size_t>(d);
    }
    std::array<std::size_t, kMaxRank> dims_{};
    int rank_ = 0;
};

// NumPy broadcasting: the shape both operands stretch to, or a ShapeError naming `op` and both shapes.
Shape broadcast_shapes(const Shape& a, const Shape& b, const char* op);

}  // namespace tg
