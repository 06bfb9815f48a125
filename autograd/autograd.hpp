// Everything a user of the autograd engine needs, in one include. Speed-only features are opt-in
// headers of kernels/: packed weights for decoding (kernels/packed.hpp), threads (kernels/threads.hpp).
#pragma once
#include "error.hpp"
#include "gradcheck.hpp"
#include "op.hpp"
#include "ops.hpp"
#include "random.hpp"
#include "shape.hpp"
#include "tape.hpp"
#include "tensor.hpp"
#include "variable.hpp"
