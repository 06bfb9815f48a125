// Everything a user of the autograd engine needs, in one include.
#pragma once
#include "error.hpp"
#include "gradcheck.hpp"
#include "op.hpp"
#include "packed.hpp"
#include "ops.hpp"
#include "random.hpp"
#include "shape.hpp"
#include "tape.hpp"
#include "tensor.hpp"
#include "threads.hpp"
#include "variable.hpp"
