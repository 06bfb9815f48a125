// Tensor: a dense, row-major float32 array with a Shape. It is only storage; the maths lives in the
// ops (autograd/ops/*.cpp), which view tensors through xtensor adaptors. Keeping xtensor out of this
// header keeps every file that includes it quick to compile.
#pragma once
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <iosfwd>
#include <span>
#include <string>
#include <vector>

#include "shape.hpp"

namespace tg {

class Arena;
class Generator;

// Tensor memory: 64-byte aligned (an AVX-512 register, a cache line) and grown without copying.
// The alignment also makes results reproducible: xtensor's SIMD loops handle the unaligned head of
// an array with scalar code, so without a fixed alignment the same numbers could round differently
// depending on where the allocator put them. Growing discards the contents, because a tape slot's
// old value is dead when the slot is reused: no copy, no zero fill.
//
// A buffer takes its memory from the heap (and frees it), or, once bound to an Arena with
// use_arena(), from that arena: how a tape's values, gradients and saved data live in its arena and
// are all released by one reset. A copy of a buffer always owns heap memory.
template <class T>
class Buffer {
public:
    Buffer() = default;
    Buffer(const Buffer& other);
    Buffer(Buffer&& other) noexcept;
    Buffer& operator=(Buffer other) noexcept;  // copy-and-swap
    ~Buffer();

    void resize_discard(std::size_t n);  // afterwards size() == n; contents unspecified
    void assign(const T* first, const T* last);
    template <class It>
    void assign(It first, It last) {
        resize_discard(static_cast<std::size_t>(last - first));
        for (std::size_t i = 0; first != last; ++first, ++i) data_[i] = static_cast<T>(*first);
    }
    // Later allocations come from `arena` (nullptr: the heap); the current contents are forgotten.
    void use_arena(Arena* arena);

    std::size_t size() const { return size_; }
    bool empty() const { return size_ == 0; }
    T* data() { return data_; }
    const T* data() const { return data_; }
    T operator[](std::size_t i) const { return data_[i]; }
    T& operator[](std::size_t i) { return data_[i]; }
    T* begin() { return data_; }
    T* end() { return data_ + size_; }
    const T* begin() const { return data_; }
    const T* end() const { return data_ + size_; }

private:
    void release();
    T* data_ = nullptr;
    std::size_t size_ = 0, capacity_ = 0;
    Arena* arena_ = nullptr;
};

using FloatBuffer = Buffer<float>;
using IndexBuffer = Buffer<std::int32_t>;

class Tensor {
public:
    Tensor() : Tensor(Shape{}) {}                     // the scalar 0
    explicit Tensor(const Shape& shape);                         // zeros
    // (No Tensor(shape, fill): Tensor({2, 3}) would then be ambiguous with Tensor(Shape{2}, 3.0f).)
    Tensor(const Shape& shape, std::span<const float> values);   // copies; sizes must agree
    Tensor(const Shape& shape, std::initializer_list<float> values)
        : Tensor(shape, std::span<const float>(values.begin(), values.size())) {}

    static Tensor zeros(const Shape& s) { return Tensor(s); }
    static Tensor full(const Shape& s, float v);
    static Tensor ones(const Shape& s) { return full(s, 1.0f); }
    static Tensor scalar(float v) { return full(Shape{}, v); }
    static Tensor randn(const Shape& s, Generator& gen, float stddev = 1.0f);
    static Tensor uniform(const Shape& s, float low, float high, Generator& gen);

    const Shape& shape() const { return shape_; }
    int rank() const { return shape_.rank(); }
    std::size_t numel() const { return data_.size(); }
    float* data() { return data_.data(); }
    const float* data() const { return data_.data(); }
    std::span<float> flat() { return {data_.data(), data_.size()}; }
    std::span<const float> flat() const { return {data_.data(), data_.size()}; }

    float item() const;                                   // the value of a one-element tensor
    float& at(std::initializer_list<std::size_t> index);  // bounds-checked element access
    float at(std::initializer_list<std::size_t> index) const;

    // Changes the shape and size, keeping the allocation when it is large enough (how the tape reuses
    // memory; a heap tensor that grows takes half as much again). Contents are unspecified afterwards.
    void resize(const Shape& s);
    void fill(float v);
    // Later storage comes from `arena` (nullptr: the heap); the contents are forgotten (see Buffer).
    void use_arena(Arena* arena) { data_.use_arena(arena); }

    std::string str() const;  // NumPy-like text, e.g. "[[1, 2], [3, 4]]"

private:
    std::size_t offset(std::initializer_list<std::size_t> index) const;
    Shape shape_;
    FloatBuffer data_;
};

std::ostream& operator<<(std::ostream& os, const Tensor& t);

// Largest |a - b| over all elements; throws ShapeError if the shapes differ.
float max_abs_diff(const Tensor& a, const Tensor& b);

// True when no element is NaN or Inf (what anomaly mode checks of every value and gradient).
bool all_finite(const Tensor& t);

}  // namespace tg
