// The config loader with fuzzed flags, environment values and config file text (written to a
// memfd and passed as --config /proc/self/fd/N, the same path a real file takes). Every bad
// input must end in wharf::config_error, which programs print as one line.
#include "fuzz_support.hpp"

#include "wharf/core/config.hpp"

#include <array>

#include <fuzzer/FuzzedDataProvider.h>
#include <sys/mman.h>
#include <unistd.h>

namespace {

constexpr std::array<wharf::option_spec, 6> specs = {{
    {"redis_url", "Redis URL", false, "redis://127.0.0.1:6379/0"},
    {"queues", "queues and concurrency"},
    {"diagnostics", "diagnostic job types", true},
    {"grace", "shutdown grace", false, "30s"},
    {"batch", "entries per read", false, "256"},
    {"log_level", "log level", false, "info"},
}};
constexpr std::array<std::string_view, 6> env_names = {"WHARF_REDIS_URL", "WHARF_QUEUES", "WHARF_DIAGNOSTICS",
                                                       "WHARF_GRACE",     "WHARF_BATCH",  "WHARF_LOG_LEVEL"};

// One memfd per process, rewritten for each input.
const std::string& config_path(int& fd) {
    static int memfd = memfd_create("wharf-fuzz-config", 0);
    static const std::string path = "/proc/self/fd/" + std::to_string(memfd);
    fd = memfd;
    return path;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    FuzzedDataProvider in(data, size);
    std::vector<std::string> args;
    const int nargs = in.ConsumeIntegralInRange(0, 6);
    for (int i = 0; i < nargs; ++i) {
        auto a = in.ConsumeRandomLengthString(48);
        // The harness picks the config file; a fuzzed --config could name /dev/zero.
        if (a.starts_with("--config")) a = "--" + a.substr(8);
        args.push_back(std::move(a));
    }
    std::map<std::string, std::string> env;
    const int nenv = in.ConsumeIntegralInRange(0, 4);
    for (int i = 0; i < nenv; ++i) {
        const auto name = env_names[in.ConsumeIntegralInRange<std::size_t>(0, env_names.size() - 1)];
        env[std::string(name)] = in.ConsumeRandomLengthString(48);
    }
    const bool with_file = in.ConsumeBool();
    const std::string file = in.ConsumeRemainingBytesAsString();
    if (with_file) {
        int fd = -1;
        const auto& path = config_path(fd);
        WHARF_FUZZ_CHECK(fd >= 0);
        WHARF_FUZZ_CHECK(ftruncate(fd, 0) == 0);
        WHARF_FUZZ_CHECK(pwrite(fd, file.data(), file.size(), 0) == static_cast<ssize_t>(file.size()));
        args.insert(args.begin(), {"--config", path});
    }
    try {
        const auto cfg = wharf::config::load(args, env, specs);
        for (const auto& s : specs) {
            (void)cfg.get(s.key);
            try {
                (void)cfg.integer(s.key, 1);
            } catch (const wharf::config_error&) {
            }
            try {
                (void)cfg.duration(s.key, std::chrono::seconds(1));
            } catch (const wharf::config_error&) {
            }
            (void)cfg.enabled(s.key);
        }
    } catch (const wharf::config_error&) {
    }
    return 0;
}
