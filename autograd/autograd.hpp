// Everything a user of the autograd engine needs, in one include.
#pragma once
#include "autograd/error.hpp"
#include "autograd/gradcheck.hpp"
#include "autograd/op.hpp"
#include "autograd/packed.hpp"
#include "autograd/ops.hpp"
#include "autograd/random.hpp"
#include "autograd/shape.hpp"
#include "autograd/tape.hpp"
#include "autograd/tensor.hpp"
#include "autograd/threads.hpp"
#include "autograd/variable.hpp"
