// The api_credentials table (migrations/0011): blocking libpqxx calls, for pg::pool::run.
#pragma once

#include "wharf/apikeys/key.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace pqxx {
template <typename CONNECTPOLICY> class basic_connection_base;
class connect_direct;
using connection = basic_connection_base<connect_direct>;
}  // namespace pqxx

namespace wharf::apikeys {

struct key_info {
    std::string prefix, tenant, name, created_at;
    std::vector<std::string> scopes;
    std::int32_t rate_per_second = 50;
    std::optional<std::string> revoked_at;
};

// The stored half of a key, as the API checks it.
struct stored_key {
    key_hash hash{};
    std::string tenant;
    std::vector<std::string> scopes;
    std::int32_t rate_per_second = 50;
    bool revoked = false;
};

struct new_key {
    std::string tenant;
    std::vector<std::string> scopes;
    std::int32_t rate_per_second = 50;
    std::string name;
};

// Creates a key. (The tenant's storage quota is the catalog's: storage::set_quota.)
issued_key create(pqxx::connection& c, const new_key& k);
std::vector<key_info> list(pqxx::connection& c);
// False when no key has that prefix. Revoking twice is a no-op.
bool revoke(pqxx::connection& c, const std::string& prefix);
std::optional<stored_key> find(pqxx::connection& c, const std::string& prefix);

}  // namespace wharf::apikeys
