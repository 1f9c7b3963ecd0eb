// Logging set-up.
#include "wharf/core/log.hpp"

#include "wharf/core/config.hpp"

#include <spdlog/sinks/stdout_sinks.h>

namespace wharf {

void init_logging(std::string_view level, std::string_view format) {
    const auto lvl = spdlog::level::from_str(std::string{level});
    if (lvl == spdlog::level::off && level != "off")
        throw config_error("log level must be one of trace, debug, info, warn, error, off (got '" +
                           std::string{level} + "')");
    auto logger = spdlog::stderr_logger_mt("wharf");
    if (format == "json") {
        logger->set_pattern(R"({"ts":"%Y-%m-%dT%H:%M:%S.%e%z","level":"%l","pid":%P,"msg":"%v"})");
    } else if (format == "text") {
        logger->set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%-5l%$ [%P] %v");
    } else {
        throw config_error("log format must be text or json (got '" + std::string{format} + "')");
    }
    logger->set_level(lvl);
    logger->flush_on(spdlog::level::warn);
    spdlog::set_default_logger(std::move(logger));
}

}  // namespace wharf
