// Exceptions thrown by tapegrad. Every message names the op (or function) and the shapes involved,
// so a user can find the offending line without a debugger.
#pragma once
#include <stdexcept>
#include <string>

namespace tg {

// Base class of everything tapegrad throws.
struct Error : std::runtime_error {
    using std::runtime_error::runtime_error;
};

// Operands whose shapes do not fit the op, e.g. "matmul: inner dimensions differ: [2, 3] @ [4, 5]".
struct ShapeError : Error {
    using Error::Error;
};

// An index or axis outside its range, e.g. an embedding id >= the number of rows.
struct IndexError : Error {
    using Error::Error;
};

// Using the tape wrongly: a stale value, backward from a non-scalar without a seed, ...
struct TapeError : Error {
    using Error::Error;
};

// Anomaly mode found a NaN or Inf; the message names the op and the record.
struct AnomalyError : Error {
    using Error::Error;
};

// A number that must be finite is not: a training loss that became NaN or Inf, a gradient norm that
// overflowed. Training stops with this instead of saving a broken model.
struct NumericError : Error {
    using Error::Error;
};

// Memory ran out; the message says what was being allocated and how much ("out of memory: the tape's
// arena needed a block of 2048.0 MB ..."), where std::bad_alloc says only "std::bad_alloc".
struct OutOfMemory : Error {
    using Error::Error;
};

}  // namespace tg
