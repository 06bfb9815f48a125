// Every layer, in one include.
#pragma once
#include "attention.hpp"
#include "dropout.hpp"
#include "embedding.hpp"
#include "gru.hpp"
#include "gru_cell.hpp"
#include "layer_norm.hpp"
#include "linear.hpp"
#include "lstm.hpp"
#include "lstm_cell.hpp"
// <doc:layer-includes>
#include "maxout.hpp"
// </doc:layer-includes>
#include "module.hpp"
#include "recurrent.hpp"
#include "recurrent_cell.hpp"
#include "transformer.hpp"
