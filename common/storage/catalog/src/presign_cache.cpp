// The presigned-URL cache.
#include "wharf/storage/presign_cache.hpp"

#include <fmt/format.h>

namespace wharf::storage {

boost::system::result<std::chrono::seconds, refusal> checked_presign_expiry(std::optional<std::int64_t> seconds) {
    if (!seconds) return default_presign_expiry;
    if (*seconds < 1 || *seconds > max_presign_expiry.count())
        return refusal{errc::permanent, fmt::format("presign expiry must be between 1 and {} seconds (7 days), got {}",
                                                  max_presign_expiry.count(), *seconds)};
    return std::chrono::seconds{*seconds};
}

presign_cache::presign_cache(clock_fn now, std::size_t max_entries)
    : now_(std::move(now)), max_entries_(max_entries == 0 ? 1 : max_entries) {}

std::string presign_cache::get(const std::string& provider_name, http_method method, const std::string& key,
                               std::chrono::seconds expires, const sign_fn& sign) {
    const cache_key k{provider_name, static_cast<int>(method), key, expires.count()};
    {
        std::lock_guard lock(mutex_);
        const auto now = now_();
        if (auto it = entries_.find(k); it != entries_.end()) {
            if (now + presign_refresh_margin < it->second.expires_at) {
                ++hits_;
                return it->second.url;
            }
            entries_.erase(it);
        }
        ++misses_;
    }
    // Signed outside the lock: two threads missing at once both sign, which is harmless.
    const auto signed_at = now_();
    std::string url = sign(expires);
    std::lock_guard lock(mutex_);
    if (entries_.size() >= max_entries_) evict_expired(signed_at);
    if (entries_.size() >= max_entries_) entries_.erase(entries_.begin());  // bounded memory beats hit rate
    entries_.insert_or_assign(k, entry{url, signed_at + expires});
    return url;
}

std::string presign_cache::get(const provider& p, http_method method, const std::string& key,
                               std::chrono::seconds expires) {
    return get(p.name(), method, key, expires,
               [&](std::chrono::seconds e) { return p.presign(method, key, e); });
}

std::size_t presign_cache::size() const {
    std::lock_guard lock(mutex_);
    return entries_.size();
}

presign_cache::statistics presign_cache::stats() const {
    std::lock_guard lock(mutex_);
    return {entries_.size(), max_entries_, hits_, misses_};
}

std::size_t presign_cache::clear() {
    std::lock_guard lock(mutex_);
    const auto n = entries_.size();
    entries_.clear();
    return n;
}

void presign_cache::forget(const std::string& provider_name, const std::string& key) {
    std::lock_guard lock(mutex_);
    std::erase_if(entries_, [&](const auto& kv) { return std::get<0>(kv.first) == provider_name && std::get<2>(kv.first) == key; });
}

void presign_cache::evict_expired(std::chrono::system_clock::time_point now) {
    std::erase_if(entries_, [&](const auto& kv) { return !(now + presign_refresh_margin < kv.second.expires_at); });
}

}  // namespace wharf::storage
