#include "autograd/arena.hpp"

#include <algorithm>
#include <new>

namespace tg {

namespace {
constexpr std::align_val_t kAlign{Arena::kAlignment};
// Every request is rounded up to whole cache lines, so every pointer handed out stays aligned and a
// step's bytes_in_use() is exactly the room it needs in one block (no padding to account for).
std::size_t round_up(std::size_t bytes) { return (bytes + Arena::kAlignment - 1) / Arena::kAlignment * Arena::kAlignment; }
}  // namespace

Arena::Arena(std::size_t first_block_bytes) : first_block_bytes_(round_up(std::max<std::size_t>(first_block_bytes, 1))) {}

Arena::~Arena() { free_blocks(); }

void Arena::free_blocks() {
    for (const Block& b : blocks_) ::operator delete(b.data, kAlign);
    blocks_.clear();
    current_ = offset_ = 0;
}

void* Arena::allocate(std::size_t bytes) {
    bytes = round_up(std::max<std::size_t>(bytes, 1));
    if (current_ < blocks_.size() && blocks_[current_].size - offset_ >= bytes) {  // the fast path: a bump
        void* p = blocks_[current_].data + offset_;
        offset_ += bytes;
        in_use_ += bytes;
        peak_ = std::max(peak_, in_use_);
        return p;
    }
    return allocate_slow(bytes);
}

// The current block is full: move on to a later block that has room (kept from an earlier step),
// or chain a new one twice the size of the last (Stan's growth rule), large enough for the request.
void* Arena::allocate_slow(std::size_t bytes) {
    std::size_t next = blocks_.empty() ? 0 : current_ + 1;
    while (next < blocks_.size() && blocks_[next].size < bytes) ++next;
    if (next == blocks_.size()) {
        const std::size_t size = std::max(blocks_.empty() ? first_block_bytes_ : 2 * blocks_.back().size, bytes);
        blocks_.push_back({static_cast<char*>(::operator new(size, kAlign)), size});
    }
    current_ = next;
    offset_ = bytes;
    in_use_ += bytes;
    peak_ = std::max(peak_, in_use_);
    return blocks_[current_].data;
}

void Arena::rewind(const Mark& m) {
    if (m.block > current_ || (m.block == current_ && m.offset > offset_)) return;  // already released
    current_ = m.block;
    offset_ = m.offset;
    in_use_ = m.in_use;
}

void Arena::reset() {
    if (blocks_.size() > 1) {  // the peak outgrew the first block: one block of the peak's size from now on
        free_blocks();
        blocks_.push_back({static_cast<char*>(::operator new(peak_, kAlign)), peak_});
    }
    current_ = offset_ = in_use_ = 0;
}

std::size_t Arena::reserved_bytes() const {
    std::size_t total = 0;
    for (const Block& b : blocks_) total += b.size;
    return total;
}

}  // namespace tg
