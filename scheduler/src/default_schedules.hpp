// The built-in maintenance schedules, recorded at start when absent (--default-schedules, on by
// default). Adjust them like any other: `wharfctl schedules apply`, pause, resume.
#pragma once

#include "wharf/schedule/definition.hpp"

#include <vector>

namespace wharf::scheduler {

const std::vector<schedule::definition>& default_schedules();

}  // namespace wharf::scheduler
