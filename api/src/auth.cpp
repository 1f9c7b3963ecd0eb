#include "auth.hpp"

#include "wharf/apikeys/store.hpp"
#include "wharf/pg/pool.hpp"

#include <algorithm>

namespace wharf::api {

namespace {
constexpr std::size_t max_cached_keys = 10'000;
}

bool principal::may(std::string_view scope) const {
    return std::find(scopes.begin(), scopes.end(), scope) != scopes.end();
}

boost::asio::awaitable<std::optional<principal>> authenticator::check(std::optional<std::string_view> authorization,
                                                                      std::optional<std::string_view> api_key_header) {
    std::string_view key;
    if (authorization && authorization->size() > 7 &&
        std::equal(authorization->begin(), authorization->begin() + 7, "Bearer ",
                   [](char a, char b) { return std::tolower(static_cast<unsigned char>(a)) == std::tolower(static_cast<unsigned char>(b)); }))
        key = authorization->substr(7);
    else if (api_key_header)
        key = *api_key_header;
    const auto prefix = apikeys::prefix_of(key);
    if (!prefix) co_return std::nullopt;
    // Hashed before anything is looked up, so a known prefix and an unknown one cost the same.
    const auto hash = apikeys::hash_of(key);
    const auto now = std::chrono::steady_clock::now();
    auto it = cache_.find(*prefix);
    if (it == cache_.end() || it->second.until < now) {
        const std::string p = *prefix;
        auto finding = db_.run([p](pqxx::connection& c) { return apikeys::find(c, p); });
        const auto stored = co_await std::move(finding);
        if (!stored) {
            if (it != cache_.end()) cache_.erase(it);
            co_return std::nullopt;
        }
        if (cache_.size() >= max_cached_keys) cache_.clear();  // crude but bounded; refills on demand
        cached entry{stored->hash, principal{*prefix, stored->tenant, stored->scopes, stored->rate_per_second},
                     stored->revoked, now + cache_for_};
        it = cache_.insert_or_assign(*prefix, std::move(entry)).first;
    }
    if (!apikeys::same(hash, it->second.hash) || it->second.revoked) co_return std::nullopt;
    co_return it->second.who;
}

}  // namespace wharf::api
