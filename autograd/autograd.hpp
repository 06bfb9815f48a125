// Everything a user of the autograd engine needs, in one include. Speed-only features are opt-in
// headers: packed weights for decoding (packed.hpp) and the library's threads (threads.hpp).
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
