#include "autograd/shape.hpp"

#include <fmt/format.h>

namespace tg {

Shape Shape::from(std::span<const std::size_t> dims) {
    if (dims.size() > kMaxRank) throw ShapeError(fmt::format("Shape: rank {} above {}", dims.size(), kMaxRank));
    Shape s;
    for (std::size_t d : dims) s.push_back(d);
    return s;
}

std::size_t Shape::numel() const {
    std::size_t n = 1;
    for (int i = 0; i < rank_; ++i) n *= dims_[static_cast<std::size_t>(i)];
    return n;
}

void Shape::push_back(std::size_t d) {
    if (rank_ == kMaxRank) throw ShapeError(fmt::format("Shape: rank above {}", kMaxRank));
    dims_[static_cast<std::size_t>(rank_++)] = d;
}

Shape Shape::without(int axis) const {
    Shape s;
    for (int i = 0; i < rank_; ++i)
        if (i != axis) s.push_back((*this)[i]);
    return s;
}

Shape Shape::with(int axis, std::size_t size) const {
    Shape s = *this;
    s[axis] = size;
    return s;
}

Shape Shape::inserted(int axis, std::size_t size) const {
    Shape s;
    for (int i = 0; i <= rank_; ++i) {
        if (i == axis) s.push_back(size);
        if (i < rank_) s.push_back((*this)[i]);
    }
    return s;
}

bool Shape::operator==(const Shape& o) const {
    if (rank_ != o.rank_) return false;
    for (int i = 0; i < rank_; ++i)
        if ((*this)[i] != o[i]) return false;
    return true;
}

std::string Shape::str() const { return fmt::format("[{}]", fmt::join(begin(), end(), ", ")); }

int Shape::normalize_axis(int a, int rank, const char* op) {
    int r = a < 0 ? a + rank : a;
    if (r < 0 || r >= rank)
        throw IndexError(fmt::format("{}: axis {} out of range for a tensor of rank {}", op, a, rank));
    return r;
}

Shape broadcast_shapes(const Shape& a, const Shape& b, const char* op) {
    // Align from the right; a dimension of 1 stretches to match the other.
    int rank = std::max(a.rank(), b.rank());
    Shape out;
    for (int i = 0; i < rank; ++i) {
        int ia = i - (rank - a.rank()), ib = i - (rank - b.rank());
        std::size_t da = ia >= 0 ? a[ia] : 1, db = ib >= 0 ? b[ib] : 1;
        if (da != db && da != 1 && db != 1)
            throw ShapeError(fmt::format("{}: shapes {} and {} do not broadcast (axis {}: {} vs {})", op,
                                         a.str(), b.str(), i, da, db));
        out.push_back(da == 1 ? db : da);
    }
    return out;
}

}  // namespace tg
