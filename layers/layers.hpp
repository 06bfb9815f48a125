// Every layer, in one include.
#pragma once
#include "layers/attention.hpp"
#include "layers/dropout.hpp"
#include "layers/embedding.hpp"
#include "layers/gru.hpp"
#include "layers/gru_cell.hpp"
#include "layers/linear.hpp"
#include "layers/maxout.hpp"
#include "layers/module.hpp"
