// A backup's manifest as PostgreSQL returns it: parsed with limits, every bad document an
// std::invalid_argument; an accepted census compares equal to itself and round-trips.
#include "fuzz_support.hpp"

#include "wharf/backup/census.hpp"

#include <nlohmann/json.hpp>

#include <stdexcept>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string text(wharf::fuzz::text(data, size));
    wharf::backup::census c;
    try {
        c = wharf::backup::census_from_manifest(text);
    } catch (const std::invalid_argument&) {
        return 0;
    }
    WHARF_FUZZ_CHECK(wharf::backup::census_differences(c, c).empty());
    WHARF_FUZZ_CHECK(wharf::backup::census_from_json(wharf::backup::to_json(c)) == c);
    return 0;
}
