// Who is asking: an API key (Authorization: Bearer wk_..., or X-API-Key) checked against
// api_credentials. A missing, malformed, unknown or revoked key is one identical refusal; a
// known key's row is kept a short while (cache_for) so that a busy client costs no query per
// request, which is also how long a revocation may take to bite.
#pragma once

#include "wharf/apikeys/key.hpp"

#include <boost/asio/awaitable.hpp>

#include <chrono>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

namespace wharf::pg {
class pool;
}

namespace wharf::api {

struct principal {
    std::string prefix, tenant;
    std::vector<std::string> scopes;
    std::int32_t rate_per_second = 50;
    bool may(std::string_view scope) const;
};

class authenticator {
public:
    explicit authenticator(pg::pool& db, std::chrono::seconds cache_for = std::chrono::seconds(10))
        : db_(db), cache_for_(cache_for) {}

    // nullopt: answer 401. Not thread-safe: call from one strand.
    boost::asio::awaitable<std::optional<principal>> check(std::optional<std::string_view> authorization,
                                                           std::optional<std::string_view> api_key_header);

private:
    struct cached {
        apikeys::key_hash hash;
        principal who;
        bool revoked = false;
        std::chrono::steady_clock::time_point until;
    };
    pg::pool& db_;
    std::chrono::seconds cache_for_;
    std::unordered_map<std::string, cached> cache_;  // by prefix, bounded (see auth.cpp)
};

}  // namespace wharf::api
