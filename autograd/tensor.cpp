#include "autograd/tensor.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <new>
#include <utility>
#include <ostream>

#include "autograd/arena.hpp"
#include "autograd/error.hpp"
#include "autograd/random.hpp"

namespace tg {

namespace {
constexpr std::align_val_t kAlignment{64};
}

template <class T>
Buffer<T>::Buffer(const Buffer& other) {
    resize_discard(other.size_);
    if (size_) std::memcpy(data_, other.data_, size_ * sizeof(T));
}

template <class T>
Buffer<T>::Buffer(Buffer&& other) noexcept
    : data_(std::exchange(other.data_, nullptr)), size_(std::exchange(other.size_, 0)),
      capacity_(std::exchange(other.capacity_, 0)), arena_(std::exchange(other.arena_, nullptr)) {}

template <class T>
Buffer<T>& Buffer<T>::operator=(Buffer other) noexcept {
    std::swap(data_, other.data_);
    std::swap(size_, other.size_);
    std::swap(capacity_, other.capacity_);
    std::swap(arena_, other.arena_);
    return *this;
}

template <class T>
Buffer<T>::~Buffer() {
    release();
}

template <class T>
void Buffer<T>::release() {
    if (data_ && !arena_) ::operator delete(data_, kAlignment);  // arena memory goes back with the arena
    data_ = nullptr;
    size_ = capacity_ = 0;
}

template <class T>
void Buffer<T>::use_arena(Arena* arena) {
    release();
    arena_ = arena;
}

template <class T>
void Buffer<T>::resize_discard(std::size_t n) {
    if (n > capacity_) {
        // A heap buffer that grows takes room for half as much again, as std::vector does: one grown
        // a row at a time (a decoder's state, the Transformer's cache) is reallocated, and its fresh
        // memory paid for in cache misses and page faults, a logarithmic number of times, not at every step.
        const std::size_t room = arena_ || capacity_ == 0 ? n : std::max(n, capacity_ + capacity_ / 2);
        release();  // stays consistent if the allocation below throws
        data_ = arena_ ? arena_->allocate_array<T>(room)
                       : static_cast<T*>(::operator new(std::max<std::size_t>(room, 1) * sizeof(T), kAlignment, std::nothrow));
        if (!data_)
            throw OutOfMemory(fmt::format("out of memory: a tensor of {} values ({:.1f} MB)", n,
                                          static_cast<double>(n * sizeof(T)) / 1048576.0));
        capacity_ = room;
    }
    size_ = n;
}

template <class T>
void Buffer<T>::assign(const T* first, const T* last) {
    resize_discard(static_cast<std::size_t>(last - first));
    if (size_) std::memcpy(data_, first, size_ * sizeof(T));
}

template class Buffer<float>;
template class Buffer<std::int32_t>;

Tensor::Tensor(const Shape& shape) : shape_(shape) {
    data_.resize_discard(shape.numel());
    fill(0.0f);
}

Tensor Tensor::full(const Shape& s, float v) {
    Tensor t(s);
    t.fill(v);
    return t;
}

Tensor::Tensor(const Shape& shape, std::span<const float> values) : shape_(shape) {
    if (values.size() != shape.numel())
        throw ShapeError(fmt::format("Tensor: {} values given for shape {} ({} elements)", values.size(),
                                     shape.str(), shape.numel()));
    data_.resize_discard(values.size());
    std::copy(values.begin(), values.end(), data_.data());
}

Tensor Tensor::randn(const Shape& s, Generator& gen, float stddev) {
    Tensor t(s);
    for (float& v : t.flat()) v = gen.normal(0.0f, stddev);
    return t;
}

Tensor Tensor::uniform(const Shape& s, float low, float high, Generator& gen) {
    Tensor t(s);
    for (float& v : t.flat()) v = gen.uniform(low, high);
    return t;
}

float Tensor::item() const {
    if (data_.size() != 1)
        throw ShapeError(fmt::format("item: tensor of shape {} has {} elements, not 1", shape_.str(), data_.size()));
    return data_.data()[0];
}

std::size_t Tensor::offset(std::initializer_list<std::size_t> index) const {
    if (static_cast<int>(index.size()) != shape_.rank())
        throw IndexError(fmt::format("at: {} indices for a tensor of rank {}", index.size(), shape_.rank()));
    std::size_t off = 0;
    int axis = 0;
    for (std::size_t i : index) {
        if (i >= shape_[axis])
            throw IndexError(fmt::format("at: index {} out of range for axis {} of shape {}", i, axis, shape_.str()));
        off = off * shape_[axis] + i;
        ++axis;
    }
    return off;
}

float& Tensor::at(std::initializer_list<std::size_t> index) { return data_.data()[offset(index)]; }
float Tensor::at(std::initializer_list<std::size_t> index) const { return data_.data()[offset(index)]; }

void Tensor::resize(const Shape& s) {
    shape_ = s;
    data_.resize_discard(s.numel());
}

void Tensor::fill(float v) {
    if (data_.size() == 0) return;  // (an empty tensor may have no memory: memset must not see its null pointer)
    if (v == 0.0f && !std::signbit(v))  // all bits 0: memset writes whole cache lines without reading them first
        std::memset(data_.data(), 0, data_.size() * sizeof(float));
    else
        std::fill_n(data_.data(), data_.size(), v);
}

std::string Tensor::str() const {
    if (shape_.rank() == 0) return fmt::format("{:.6g}", data_.data()[0]);
    // Nested brackets, one level per axis, like NumPy; long axes are elided in the middle.
    std::string s;
    auto rec = [&](auto&& self, int axis, std::size_t off) -> void {
        s += '[';
        std::size_t n = shape_[axis], stride = 1;
        for (int a = axis + 1; a < shape_.rank(); ++a) stride *= shape_[a];
        for (std::size_t i = 0; i < n; ++i) {
            if (n > 8 && i == 3) {
                s += "..., ";
                i = n - 3;
            }
            if (axis + 1 == shape_.rank())
                s += fmt::format("{:.6g}", data_.data()[off + i]);
            else
                self(self, axis + 1, off + i * stride);
            if (i + 1 < n) s += axis + 1 == shape_.rank() ? ", " : ",\n" + std::string(static_cast<std::size_t>(axis) + 1, ' ');
        }
        s += ']';
    };
    rec(rec, 0, 0);
    return s;
}

std::ostream& operator<<(std::ostream& os, const Tensor& t) { return os << t.str(); }

bool all_finite(const Tensor& t) {
    for (float v : t.flat())
        if (!std::isfinite(v)) return false;
    return true;
}

float max_abs_diff(const Tensor& a, const Tensor& b) {
    if (!(a.shape() == b.shape()))
        throw ShapeError(fmt::format("max_abs_diff: shapes {} and {} differ", a.shape().str(), b.shape().str()));
    float m = 0.0f;
    for (std::size_t i = 0; i < a.numel(); ++i) m = std::max(m, std::fabs(a.data()[i] - b.data()[i]));
    return m;
}

float Generator::uniform(float low, float high) {
    return std::uniform_real_distribution<float>(low, high)(engine_);
}

float Generator::normal(float mean, float stddev) {
    return std::normal_distribution<float>(mean, stddev)(engine_);
}

}  // namespace tg
