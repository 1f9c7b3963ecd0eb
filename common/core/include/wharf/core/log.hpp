// The one logger: spdlog, set up once per process.
#pragma once

#include <spdlog/spdlog.h>

#include <string_view>

namespace wharf {

// level: trace|debug|info|warn|error|off; format: "text" or "json" (one JSON object a line).
// Logs go to stderr so stdout stays for a command's output. Throws config_error on bad values.
void init_logging(std::string_view level, std::string_view format = "text");

}  // namespace wharf
