// Presigned URLs: expiry validation and a cache that hands out the same URL until one minute
// before it expires (signing is cheap, but stable URLs let browsers and CDNs cache the object).
#pragma once

#include "wharf/storage/error.hpp"
#include "wharf/storage/placement.hpp"  // refusal
#include "wharf/storage/provider.hpp"

#include <boost/system/result.hpp>

#include <chrono>
#include <cstdint>
#include <cstddef>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <tuple>

namespace wharf::storage {

inline constexpr std::chrono::seconds default_presign_expiry{3600};
inline constexpr std::chrono::seconds max_presign_expiry{7 * 24 * 3600};
// A cached URL is not handed out when it has less than this left.
inline constexpr std::chrono::seconds presign_refresh_margin{60};

// nullopt -> 1 hour. Below 1 s or above 7 days (the longest a SigV4 presigned URL may live) is
// refused with errc::permanent rather than clamped, so a caller is never surprised by a shorter URL.
boost::system::result<std::chrono::seconds, refusal> checked_presign_expiry(std::optional<std::int64_t> seconds);

class presign_cache {
public:
    using clock_fn = std::function<std::chrono::system_clock::time_point()>;
    using sign_fn = std::function<std::string(std::chrono::seconds expires)>;

    explicit presign_cache(clock_fn now = &std::chrono::system_clock::now, std::size_t max_entries = 10'000);

    // The URL for (provider, method, key), signed with `expires` on a miss. A cached URL is
    // returned while it has more than presign_refresh_margin left and was signed for the same
    // expiry (a caller asking for 7 days must not get a URL signed for 1 hour). Thread-safe.
    std::string get(const std::string& provider_name, http_method method, const std::string& key,
                    std::chrono::seconds expires, const sign_fn& sign);
    std::string get(const provider& p, http_method method, const std::string& key, std::chrono::seconds expires);

    std::size_t size() const;

    struct statistics {
        std::size_t entries = 0, max_entries = 0;
        std::uint64_t hits = 0, misses = 0;  // since start (a clear keeps them)
    };
    statistics stats() const;
    // Drops every cached URL (they stay valid at the provider until they expire); returns how many.
    std::size_t clear();
    // Drops the URLs of one object (deleted or moved), so they are not handed out again.
    void forget(const std::string& provider_name, const std::string& key);

private:
    using cache_key = std::tuple<std::string, int, std::string, std::int64_t>;
    struct entry {
        std::string url;
        std::chrono::system_clock::time_point expires_at;
    };
    void evict_expired(std::chrono::system_clock::time_point now);

    clock_fn now_;
    std::size_t max_entries_;
    mutable std::mutex mutex_;
    std::map<cache_key, entry> entries_;
    std::uint64_t hits_ = 0, misses_ = 0;
};

}  // namespace wharf::storage
