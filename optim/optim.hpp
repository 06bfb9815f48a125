// Every optimizer, clipping and the learning-rate schedules, in one include.
#pragma once
#include "adadelta.hpp"
#include "adam.hpp"
#include "optimizer.hpp"
#include "schedule.hpp"
#include "sgd.hpp"
