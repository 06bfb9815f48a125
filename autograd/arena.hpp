// Arena: the tape's memory. Every value, gradient and saved buffer of a step is carved out of a few
// large blocks by bumping a pointer; the step's end gives it all back at once.
//
// This is Stan Math's stack_alloc and recover_memory(): allocation is a pointer increment, release
// is O(1) (the pointer goes back to the start of the first block), and the blocks are kept for the
// next step. Memory is therefore bounded by the largest single step, whatever shapes came before,
// unlike per-slot buffers that each keep the largest tensor they ever held (the sum over all slots
// of each one's maximum, which grew to gigabytes on batches of varying lengths).
//
// One refinement over Stan: when a step needed more than one block, reset() replaces them all by a
// single block of the step's peak and half as much again, so a warmed-up step runs in one contiguous
// block and never allocates (chains of blocks exist only while the peak is still growing), and a peak
// that creeps up does not fault a fresh block in every time (the untouched half is address space,
// not memory).
#pragma once
#include <cstddef>
#include <vector>

namespace tg {

class Arena {
public:
    static constexpr std::size_t kAlignment = 64;  // a cache line, an AVX-512 register

    explicit Arena(std::size_t first_block_bytes = std::size_t{1} << 16);
    ~Arena();
    Arena(const Arena&) = delete;
    Arena& operator=(const Arena&) = delete;

    // `bytes` of uninitialised memory, 64-byte aligned, valid until reset() or a rewind() past it.
    void* allocate(std::size_t bytes);
    // (Under AddressSanitizer, memory not handed out is poisoned: overruns are caught as on the heap.)
    template <class T>
    T* allocate_array(std::size_t n) {
        return static_cast<T*>(allocate(n * sizeof(T)));
    }

    // A position to come back to: everything allocated after mark() is released by rewind(mark)
    // (nested scopes, Stan's start_nested / recover_memory_nested). Marks are used last in, first out.
    struct Mark {
        std::size_t block = 0, offset = 0, in_use = 0;
    };
    Mark mark() const { return {current_, offset_, in_use_}; }
    void rewind(const Mark& m);
    bool allocated_since(const Mark& m, const void* p) const;  // p was handed out after mark() returned m

    // Releases everything (O(1) when the step fitted in one block; else merges the blocks into one).
    void reset() noexcept;

    std::size_t bytes_in_use() const { return in_use_; }
    std::size_t peak_bytes() const { return peak_; }  // the high-water mark of bytes_in_use()
    std::size_t reserved_bytes() const;               // what the blocks hold
    std::size_t num_blocks() const { return blocks_.size(); }
    // Blocks allocated since construction (growing, and merging at reset()): each is fresh memory,
    // paid for in page faults as it is first touched. A warmed-up step allocates none.
    std::size_t blocks_allocated() const { return blocks_allocated_; }

private:
    struct Block {
        char* data;
        std::size_t size;
    };
    void* allocate_slow(std::size_t bytes);
    void free_blocks();

    std::vector<Block> blocks_;
    std::size_t current_ = 0;  // the block being filled
    std::size_t offset_ = 0;   // bytes used in it
    std::size_t in_use_ = 0, peak_ = 0;
    std::size_t blocks_allocated_ = 0;
    std::size_t first_block_bytes_;
};

}  // namespace tg
