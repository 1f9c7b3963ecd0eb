// The storage provider configuration (storage_providers: inline JSON, as a flag or variable
// carries it) through the real loader, and parse_provider_configs on any JSON document. Every bad
// configuration must end in wharf::config_error.
#include "fuzz_support.hpp"

#include "wharf/core/config.hpp"
#include "wharf/storage/registry.hpp"

#include <array>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    namespace s = wharf::storage;
    const std::string text(wharf::fuzz::text(data, size));
    // Only JSON-looking text: anything else is taken as a file name, and the fuzzer must not
    // open arbitrary paths.
    const auto first = text.find_first_not_of(" \t\r\n");
    if (first == std::string::npos || (text[first] != '{' && text[first] != '[')) return 0;
    const std::array<wharf::option_spec, 1> specs = {s::storage_providers_option()};
    try {
        const auto cfg = wharf::config::load(std::vector<std::string>{"--storage-providers", text}, {}, specs);
        const auto providers = s::provider_configs_from(cfg);
        WHARF_FUZZ_CHECK(!providers.empty());
        for (const auto& p : providers) {
            WHARF_FUZZ_CHECK(!p.name.empty() && p.name.size() <= 63);
            WHARF_FUZZ_CHECK(p.kind == "local" || p.kind == "s3" || p.kind == "azure");
            WHARF_FUZZ_CHECK(p.limit_bytes > 0);
        }
    } catch (const wharf::config_error&) {
    }
    return 0;
}
