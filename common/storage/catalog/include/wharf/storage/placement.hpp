// The placement policy: which provider an upload goes to. Pure; the caller supplies usage (from
// storage_stats) and the random generator (seeded in tests).
#pragma once

#include "wharf/storage/error.hpp"

#include <boost/system/result.hpp>

#include <cstdint>
#include <optional>
#include <random>
#include <span>
#include <string>
#include <string_view>

namespace wharf::storage {

// An input-dependent failure as a value, for boost::system::result<T, refusal> (storage::error,
// the exception, is not default-constructible as result needs). value() throws it as
// storage::error.
struct refusal {
    errc code = errc::permanent;
    std::string message;
};
[[noreturn]] inline void throw_exception_from_error(const refusal& r, const boost::source_location&) {
    throw error(r.code, r.message);
}

inline constexpr std::uint64_t default_limit_bytes = 5ull << 30;  // 5 GiB per provider

struct provider_capacity {
    std::string name;
    std::uint64_t used_bytes = 0;
    std::uint64_t limit_bytes = default_limit_bytes;
};

// Picks among the providers that can take `object_size` more bytes without passing their limit
// (used < limit and used + size <= limit), at random, weighted by free capacity (limit - used),
// so usage evens out without every worker piling onto the emptiest provider at once.
// `requested` names a provider: it is used if it exists and can take the object, else refused.
// Returns the index into `providers`. Errors: errc::not_found (unknown provider),
// errc::all_providers_full (nothing can take the object; the message says why).
boost::system::result<std::size_t, refusal> choose_provider(std::span<const provider_capacity> providers,
                                                           std::uint64_t object_size,
                                                           std::optional<std::string_view> requested,
                                                           std::mt19937_64& rng);

}  // namespace wharf::storage
