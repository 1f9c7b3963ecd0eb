#include "wharf/apikeys/store.hpp"

#include <pqxx/pqxx>

namespace wharf::apikeys {

namespace {

std::vector<std::string> text_array(const pqxx::field& f) {
    std::vector<std::string> out;
    auto parser = f.as_array();
    for (auto item = parser.get_next(); item.first != pqxx::array_parser::juncture::done; item = parser.get_next())
        if (item.first == pqxx::array_parser::juncture::string_value) out.push_back(item.second);
    return out;
}

std::string array_literal(const std::vector<std::string>& items) {
    // Scopes are from known_scopes: no quoting needed beyond the braces.
    std::string out = "{";
    for (std::size_t i = 0; i < items.size(); ++i) out += (i ? "," : "") + items[i];
    return out + "}";
}

}  // namespace

issued_key create(pqxx::connection& c, const new_key& k) {
    const issued_key issued = generate();
    pqxx::work tx{c};
    tx.exec_params("INSERT INTO api_credentials (prefix, key_sha256, tenant, scopes, rate_per_second, name) "
                   "VALUES ($1, $2, $3, $4::text[], $5, $6)",
                   issued.prefix, pqxx::binarystring(issued.hash.data(), issued.hash.size()), k.tenant,
                   array_literal(k.scopes), k.rate_per_second, k.name);
    tx.commit();
    return issued;
}

std::vector<key_info> list(pqxx::connection& c) {
    pqxx::read_transaction tx{c};
    std::vector<key_info> out;
    for (const auto& r : tx.exec("SELECT prefix, tenant, name, created_at::text, scopes, rate_per_second, "
                                 "revoked_at::text FROM api_credentials ORDER BY created_at, id")) {
        key_info k;
        k.prefix = r[0].as<std::string>();
        k.tenant = r[1].as<std::string>();
        k.name = r[2].as<std::string>();
        k.created_at = r[3].as<std::string>();
        k.scopes = text_array(r[4]);
        k.rate_per_second = r[5].as<std::int32_t>();
        if (!r[6].is_null()) k.revoked_at = r[6].as<std::string>();
        out.push_back(std::move(k));
    }
    return out;
}

bool revoke(pqxx::connection& c, const std::string& prefix) {
    pqxx::work tx{c};
    const auto r = tx.exec_params(
        "UPDATE api_credentials SET revoked_at = coalesce(revoked_at, now()) WHERE prefix = $1 RETURNING 1", prefix);
    tx.commit();
    return !r.empty();
}

std::optional<stored_key> find(pqxx::connection& c, const std::string& prefix) {
    pqxx::read_transaction tx{c};
    const auto r = tx.exec_params(
        "SELECT key_sha256, tenant, scopes, rate_per_second, revoked_at IS NOT NULL FROM api_credentials "
        "WHERE prefix = $1",
        prefix);
    if (r.empty()) return std::nullopt;
    stored_key k;
    const pqxx::binarystring hash{r[0][0]};
    if (hash.size() != k.hash.size()) return std::nullopt;
    std::copy(hash.begin(), hash.end(), k.hash.begin());
    k.tenant = r[0][1].as<std::string>();
    k.scopes = text_array(r[0][2]);
    k.rate_per_second = r[0][3].as<std::int32_t>();
    k.revoked = r[0][4].as<bool>();
    return k;
}

}  // namespace wharf::apikeys
