#include "autograd/arena.hpp"

#include <algorithm>
#include <fmt/format.h>

#include <new>

#include "autograd/error.hpp"

// Under AddressSanitizer the arena marks what it has not handed out as poisoned, so a read or write
// past the end of a tensor is caught as it would be with one heap allocation per tensor.
#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/asan_interface.h>
#define TG_POISON(p, n) ASAN_POISON_MEMORY_REGION(p, n)
#define TG_UNPOISON(p, n) ASAN_UNPOISON_MEMORY_REGION(p, n)
#else
#define TG_POISON(p, n) ((void)(p), (void)(n))
#define TG_UNPOISON(p, n) ((void)(p), (void)(n))
#endif

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
    for (const Block& b : blocks_) {
        TG_UNPOISON(b.data, b.size);
        ::operator delete(b.data, kAlign);
    }
    blocks_.clear();
    current_ = offset_ = 0;
}

void* Arena::allocate(std::size_t requested) {
    const std::size_t bytes = round_up(std::max<std::size_t>(requested, 1));
    void* p;
    if (current_ < blocks_.size() && blocks_[current_].size - offset_ >= bytes) {  // the fast path: a bump
        p = blocks_[current_].data + offset_;
        offset_ += bytes;
        in_use_ += bytes;
        peak_ = std::max(peak_, in_use_);
    } else {
        p = allocate_slow(bytes);
    }
    TG_UNPOISON(p, requested);  // (the padding up to the next cache line stays poisoned)
    return p;
}

// The current block is full: move on to a later block that has room (kept from an earlier step),
// or chain a new one twice the size of the last (Stan's growth rule), large enough for the request.
void* Arena::allocate_slow(std::size_t bytes) {
    std::size_t next = blocks_.empty() ? 0 : current_ + 1;
    while (next < blocks_.size() && blocks_[next].size < bytes) ++next;
    if (next == blocks_.size()) {
        const std::size_t size = std::max(blocks_.empty() ? first_block_bytes_ : 2 * blocks_.back().size, bytes);
        blocks_.reserve(blocks_.size() + 1);  // first: the push below cannot throw and lose the block
        void* block = ::operator new(size, kAlign, std::nothrow);
        if (!block)
            throw OutOfMemory(fmt::format("out of memory: the tape's arena needed a block of {:.1f} MB for {:.1f} MB of values "
                                          "(holding {:.1f} MB)", static_cast<double>(size) / 1048576.0,
                                          static_cast<double>(bytes) / 1048576.0, static_cast<double>(in_use_) / 1048576.0));
        blocks_.push_back({static_cast<char*>(block), size});
        ++blocks_allocated_;
        TG_POISON(blocks_.back().data, size);
    }
    current_ = next;
    offset_ = bytes;
    in_use_ += bytes;
    peak_ = std::max(peak_, in_use_);
    return blocks_[current_].data;
}

void Arena::rewind(const Mark& m) {
    if (m.block > current_ || (m.block == current_ && m.offset > offset_)) return;  // already released
    for (std::size_t b = m.block; b <= current_ && b < blocks_.size(); ++b) {
        const std::size_t from = b == m.block ? m.offset : 0;
        TG_POISON(blocks_[b].data + from, blocks_[b].size - from);
    }
    current_ = m.block;
    offset_ = m.offset;
    in_use_ = m.in_use;
}

bool Arena::allocated_since(const Mark& m, const void* p) const {
    const char* c = static_cast<const char*>(p);
    for (std::size_t b = m.block; b < blocks_.size(); ++b)
        if (c >= blocks_[b].data + (b == m.block ? m.offset : 0) && c < blocks_[b].data + blocks_[b].size) return true;
    return false;
}

void Arena::reset() noexcept {
    if (blocks_.size() > 1) {  // the peak outgrew the first block: one block from now on
        // The peak and half as much again. A fresh block is faulted in page by page as the next
        // steps touch it (costly on a virtual machine), so a peak that creeps up batch after batch
        // (training's first epoch meets its shapes in random order) must not cost a fresh block each
        // time; the pages beyond the peak are never touched, so they take address space, not memory
        // (commit 6886de3 has the page faults measured with and without the margin).
        // reset() runs in StepScope's destructor, also while an exception (out of memory) unwinds: it
        // must not throw. Without the memory for the merged block, the next step starts from none.
        free_blocks();
        const std::size_t size = round_up(peak_ + peak_ / 2);
        if (void* block = ::operator new(size, kAlign, std::nothrow)) {
            blocks_.push_back({static_cast<char*>(block), size});  // (free_blocks kept the vector's room)
            ++blocks_allocated_;
        }
    }
    if (!blocks_.empty()) TG_POISON(blocks_[0].data, blocks_[0].size);
    current_ = offset_ = in_use_ = 0;
}

std::size_t Arena::reserved_bytes() const {
    std::size_t total = 0;
    for (const Block& b : blocks_) total += b.size;
    return total;
}

}  // namespace tg
