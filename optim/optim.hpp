// Every optimizer, clipping and the learning-rate schedules, in one include.
#pragma once
#include "optim/adadelta.hpp"
#include "optim/adam.hpp"
#include "optim/optimizer.hpp"
#include "optim/schedule.hpp"
#include "optim/sgd.hpp"
