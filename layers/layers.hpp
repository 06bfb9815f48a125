// Every layer, in one include.
#pragma once
#include "layers/attention.hpp"
#include "layers/dropout.hpp"
#include "layers/embedding.hpp"
#include "layers/gru.hpp"
#include "layers/gru_cell.hpp"
#include "layers/linear.hpp"
// <doc:layer-includes>
#include "layers/maxout.hpp"
// </doc:layer-includes>
#include "layers/module.hpp"
