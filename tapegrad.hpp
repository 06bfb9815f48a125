// All of tapegrad: the autograd engine, the layers, the optimizers and checkpoints.
#pragma once
#include "autograd/autograd.hpp"
#include "io/checkpoint.hpp"
#include "layers/layers.hpp"
#include "optim/optim.hpp"
