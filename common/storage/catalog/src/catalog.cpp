// The object catalog and its accounting (see catalog.hpp for the guarantees).
#include "wharf/storage/catalog.hpp"

#include "wharf/pg/detail/text.hpp"
#include "wharf/pg/pool.hpp"
#include "wharf/storage/quota.hpp"

#include <fmt/format.h>
#include <pqxx/pqxx>

#include <limits>
#include <map>
#include <stdexcept>

namespace wharf::storage {
namespace {

constexpr const char* utc_text = R"(to_char({} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'))";

std::string utc(std::string_view column) { return fmt::format(fmt::runtime(utc_text), column); }

std::int64_t to_db(std::uint64_t v, std::string_view what) {
    if (v > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()))
        throw error(errc::permanent, fmt::format("{} {} is too large", what, v));
    return static_cast<std::int64_t>(v);
}

std::uint64_t from_db(const pqxx::field& f) {
    const auto v = f.as<std::int64_t>();
    return v < 0 ? 0 : static_cast<std::uint64_t>(v);
}

std::optional<std::string> opt_text(const pqxx::field& f) {
    if (f.is_null()) return std::nullopt;
    return f.as<std::string>();
}

// libpqxx 6 binds a null parameter from nullptr; std::optional support depends on the build.
const char* param(const std::optional<std::string>& v) { return v ? v->c_str() : nullptr; }

tier tier_from(std::string_view s) {
    if (s == "warm") return tier::warm;
    if (s == "cold") return tier::cold;
    return tier::hot;
}

const std::string object_columns = "id, provider, bucket, key, size, sha256, etag, api_key, job_id, tier, prefix_class, " +
                                   utc("created_at") + ", " + utc("updated_at") +
                                   ", job_queue, content_encoding, stored_sha256, content_size";

stored_object object_from(const pqxx::row& row) {
    stored_object o;
    o.id = row[0].as<std::int64_t>();
    o.record.provider = row[1].as<std::string>();
    o.record.bucket = row[2].as<std::string>();
    o.record.key = row[3].as<std::string>();
    o.record.size = from_db(row[4]);
    o.record.sha256 = row[5].as<std::string>();
    o.record.etag = row[6].as<std::string>();
    o.record.api_key = opt_text(row[7]);
    o.record.job_id = opt_text(row[8]);
    o.record.job_queue = opt_text(row[13]);
    o.record.tier = tier_from(row[9].as<std::string>());
    o.record.prefix_class = prefix_class_from_string(row[10].as<std::string>()).value_or(prefix_class::permanent);
    o.created_at = row[11].as<std::string>();
    o.updated_at = row[12].as<std::string>();
    o.record.content_encoding = opt_text(row[14]);
    o.record.stored_sha256 = opt_text(row[15]);
    if (!row[16].is_null()) o.record.content_size = from_db(row[16]);
    return o;
}

struct stats_row {
    std::int64_t total = 0, count = 0, limit = 0, generation = 0;
    bool is_full = false;
};

// Creates the provider's row if needed and locks it: the first lock every accounting
// transaction takes, so they cannot deadlock and one of them decides each crossing.
stats_row lock_stats(pqxx::work& tx, std::string_view provider) {
    tx.exec_params("INSERT INTO storage_stats (provider) VALUES ($1) ON CONFLICT (provider) DO NOTHING",
                   std::string(provider));
    const auto row = tx.exec_params1(
        "SELECT total_bytes, file_count, limit_bytes, is_full, alert_generation FROM storage_stats "
        "WHERE provider = $1 FOR UPDATE",
        std::string(provider));
    return stats_row{row[0].as<std::int64_t>(), row[1].as<std::int64_t>(), row[2].as<std::int64_t>(),
                     row[4].as<std::int64_t>(), row[3].as<bool>()};
}

// Writes the new totals and, when the limit is crossed either way, the flags. Returns the
// crossing into full (claimed for this transaction's caller) if this change made one.
std::optional<full_crossing> write_stats(pqxx::work& tx, std::string_view provider, const stats_row& before,
                                         std::int64_t delta_bytes, std::int64_t delta_files) {
    const std::int64_t total = std::max<std::int64_t>(before.total + delta_bytes, 0);
    const std::int64_t count = std::max<std::int64_t>(before.count + delta_files, 0);
    const bool full = total >= before.limit;
    if (full && !before.is_full) {
        tx.exec_params(
            "UPDATE storage_stats SET total_bytes = $2, file_count = $3, is_full = true, alert_sent = false, "
            "alert_generation = alert_generation + 1, alert_attempts = 0, alert_next_at = NULL, "
            "alert_claimed_until = now() + make_interval(secs => $4), last_updated = now() WHERE provider = $1",
            std::string(provider), total, count, static_cast<std::int64_t>(alert_claim_lease.count()));
        return full_crossing{std::string(provider), static_cast<std::uint64_t>(total),
                             static_cast<std::uint64_t>(before.limit), before.generation + 1, 0};
    }
    if (!full && before.is_full) {
        // Dropped below the limit: the next crossing must alert again.
        tx.exec_params(
            "UPDATE storage_stats SET total_bytes = $2, file_count = $3, is_full = false, alert_sent = false, "
            "alert_attempts = 0, alert_next_at = NULL, alert_claimed_until = NULL, last_updated = now() "
            "WHERE provider = $1",
            std::string(provider), total, count);
        return std::nullopt;
    }
    tx.exec_params("UPDATE storage_stats SET total_bytes = $2, file_count = $3, last_updated = now() WHERE provider = $1",
                   std::string(provider), total, count);
    return std::nullopt;
}

struct key_row {
    std::optional<std::int64_t> quota;
    std::int64_t used = 0;
};

key_row lock_api_key(pqxx::work& tx, const std::string& api_key) {
    tx.exec_params("INSERT INTO api_keys (api_key) VALUES ($1) ON CONFLICT (api_key) DO NOTHING", api_key);
    const auto row = tx.exec_params1("SELECT quota_bytes, used_bytes FROM api_keys WHERE api_key = $1 FOR UPDATE", api_key);
    key_row k;
    if (!row[0].is_null()) k.quota = row[0].as<std::int64_t>();
    k.used = row[1].as<std::int64_t>();
    return k;
}

void charge(pqxx::work& tx, const std::string& api_key, std::int64_t bytes, std::int64_t files) {
    tx.exec_params(
        "UPDATE api_keys SET used_bytes = GREATEST(used_bytes + $2, 0), file_count = GREATEST(file_count + $3, 0), "
        "updated_at = now() WHERE api_key = $1",
        api_key, bytes, files);
}

full_crossing crossing_from(const pqxx::row& row) {
    return full_crossing{row[0].as<std::string>(), from_db(row[1]), from_db(row[2]), row[3].as<std::int64_t>(),
                         static_cast<std::uint32_t>(std::max(row[4].as<std::int32_t>(), 0))};
}

}  // namespace

std::string_view to_string(tier t) noexcept {
    switch (t) {
    case tier::hot: return "hot";
    case tier::warm: return "warm";
    case tier::cold: return "cold";
    }
    return "hot";
}

std::string_view to_string(prefix_class c) noexcept { return c == prefix_class::temp ? "temp" : "permanent"; }

std::optional<prefix_class> prefix_class_from_string(std::string_view s) noexcept {
    if (s == "temp") return prefix_class::temp;
    if (s == "permanent") return prefix_class::permanent;
    return std::nullopt;
}

record_result record_object(pqxx::connection& c, const object_record& r) {
    const std::int64_t size = to_db(r.size, "object size");
    if (r.content_encoding.has_value() != r.stored_sha256.has_value() ||
        r.content_encoding.has_value() != r.content_size.has_value())
        throw std::invalid_argument("record_object: content_encoding, stored_sha256 and content_size go together");
    const std::optional<std::string> content_size_text =
        r.content_size ? std::optional<std::string>(std::to_string(to_db(*r.content_size, "content size")))
                       : std::nullopt;
    const char* content_size = param(content_size_text);
    pqxx::work tx(c, "record_object");
    const stats_row stats = lock_stats(tx, r.provider);

    const auto existing = tx.exec_params(
        "SELECT id, size, sha256, api_key, stored_sha256 FROM objects WHERE provider = $1 AND bucket = $2 AND key = $3 "
        "AND deleted_at IS NULL FOR UPDATE",
        r.provider, r.bucket, r.key);
    std::optional<std::int64_t> old_id, old_size;
    std::optional<std::string> old_key;
    if (!existing.empty()) {
        old_id = existing[0][0].as<std::int64_t>();
        old_size = existing[0][1].as<std::int64_t>();
        old_key = opt_text(existing[0][3]);
        // The same bytes recorded again (a retried job, a crash after commit): nothing to do.
        if (*old_size == size && existing[0][2].as<std::string>() == r.sha256 &&
            opt_text(existing[0][4]) == r.stored_sha256) {
            tx.commit();
            return record_result{record_outcome::unchanged, 0, std::nullopt};
        }
    }

    // Per-tenant usage. Keys are locked in a fixed order after the stats row.
    const bool same_key = old_id && old_key == r.api_key;
    if (r.api_key) {
        if (old_key && !same_key && *old_key < *r.api_key) lock_api_key(tx, *old_key);
        const key_row k = lock_api_key(tx, *r.api_key);
        const std::int64_t charged = size - (same_key ? *old_size : 0);
        if (charged > 0 && k.quota) {
            if (auto refusal = quota_violation(static_cast<std::uint64_t>(std::max<std::int64_t>(k.used, 0)),
                                               static_cast<std::uint64_t>(*k.quota), static_cast<std::uint64_t>(charged)))
                throw error(errc::quota_exceeded, *refusal);  // the transaction rolls back
        }
    }
    if (old_key && !same_key) charge(tx, *old_key, -*old_size, -1);
    if (r.api_key) charge(tx, *r.api_key, size - (same_key ? *old_size : 0), same_key ? 0 : 1);

    const std::string tier_s{to_string(r.tier)}, class_s{to_string(r.prefix_class)};
    if (old_id) {
        tx.exec_params(
            "UPDATE objects SET size = $2, sha256 = $3, etag = $4, api_key = $5, job_id = $6, tier = $7, "
            "prefix_class = $8, job_queue = $9, content_encoding = $10, stored_sha256 = $11, content_size = $12, "
            "compress_checked_at = NULL, updated_at = now() WHERE id = $1",
            *old_id, size, r.sha256, r.etag, param(r.api_key), param(r.job_id), tier_s, class_s, param(r.job_queue),
            param(r.content_encoding), param(r.stored_sha256), content_size);
    } else {
        tx.exec_params(
            "INSERT INTO objects (provider, bucket, key, size, sha256, etag, api_key, job_id, tier, prefix_class, "
            "job_queue, content_encoding, stored_sha256, content_size) "
            "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)",
            r.provider, r.bucket, r.key, size, r.sha256, r.etag, param(r.api_key), param(r.job_id), tier_s, class_s,
            param(r.job_queue), param(r.content_encoding), param(r.stored_sha256), content_size);
    }
    const std::int64_t delta = size - old_size.value_or(0);
    auto crossing = write_stats(tx, r.provider, stats, delta, old_id ? 0 : 1);
    tx.commit();
    return record_result{old_id ? record_outcome::replaced : record_outcome::inserted, delta, std::move(crossing)};
}

delete_result delete_object(pqxx::connection& c, std::string_view provider, std::string_view bucket,
                            std::string_view key) {
    pqxx::work tx(c, "delete_object");
    const stats_row stats = lock_stats(tx, provider);
    const auto gone = tx.exec_params(
        "UPDATE objects SET deleted_at = now(), updated_at = now() WHERE provider = $1 AND bucket = $2 AND key = $3 "
        "AND deleted_at IS NULL RETURNING size, api_key",
        std::string(provider), std::string(bucket), std::string(key));
    if (gone.empty()) {
        tx.commit();
        return delete_result{};
    }
    const auto size = gone[0][0].as<std::int64_t>();
    if (auto api_key = opt_text(gone[0][1])) {
        lock_api_key(tx, *api_key);
        charge(tx, *api_key, -size, -1);
    }
    write_stats(tx, provider, stats, -size, -1);
    tx.commit();
    return delete_result{true, -size};
}

std::vector<std::pair<std::string, std::int64_t>> delete_objects(pqxx::connection& c, std::string_view provider,
                                                                 std::string_view bucket,
                                                                 const std::vector<std::string>& keys) {
    std::vector<std::pair<std::string, std::int64_t>> removed;
    if (keys.empty()) return removed;
    pg::detail::array_literal list;
    for (const auto& k : keys) list.push(std::string_view{k});
    pqxx::work tx(c, "delete_objects");
    const stats_row stats = lock_stats(tx, provider);
    const auto gone = tx.exec_params(
        "UPDATE objects SET deleted_at = now(), updated_at = now() WHERE provider = $1 AND bucket = $2 "
        "AND key = ANY($3::text[]) AND deleted_at IS NULL RETURNING key, size, api_key",
        std::string(provider), std::string(bucket), std::move(list).finish());
    std::map<std::string, std::pair<std::int64_t, std::int64_t>> per_key;  // api key -> bytes, files
    std::int64_t bytes = 0;
    for (const auto& row : gone) {
        const auto size = row[1].as<std::int64_t>();
        removed.emplace_back(row[0].as<std::string>(), size);
        bytes += size;
        if (auto api_key = opt_text(row[2])) {
            auto& [b, n] = per_key[*api_key];
            b += size;
            ++n;
        }
    }
    for (const auto& [api_key, usage] : per_key) {  // std::map: in name order
        lock_api_key(tx, api_key);
        charge(tx, api_key, -usage.first, -usage.second);
    }
    if (!removed.empty()) write_stats(tx, provider, stats, -bytes, -static_cast<std::int64_t>(removed.size()));
    tx.commit();
    return removed;
}

std::optional<stored_object> find_object(pqxx::connection& c, std::string_view provider, std::string_view bucket,
                                         std::string_view key) {
    pqxx::read_transaction tx(c, "find_object");
    const auto rows = tx.exec_params("SELECT " + object_columns +
                                         " FROM objects WHERE provider = $1 AND bucket = $2 AND key = $3 "
                                         "AND deleted_at IS NULL",
                                     std::string(provider), std::string(bucket), std::string(key));
    if (rows.empty()) return std::nullopt;
    return object_from(rows[0]);
}

std::vector<stored_object> find_objects_by_key(pqxx::connection& c, std::string_view key) {
    pqxx::read_transaction tx(c, "find_objects_by_key");
    std::vector<stored_object> out;
    for (const auto& row : tx.exec_params("SELECT " + object_columns +
                                              " FROM objects WHERE key = $1 AND deleted_at IS NULL ORDER BY id",
                                          std::string(key)))
        out.push_back(object_from(row));
    return out;
}

std::vector<stored_object> find_objects_by_prefix(pqxx::connection& c, std::string_view prefix, std::size_t limit) {
    pqxx::read_transaction tx(c, "find_objects_by_prefix");
    std::vector<stored_object> out;
    for (const auto& row :
         tx.exec_params("SELECT " + object_columns +
                            " FROM objects WHERE starts_with(key, $1) AND deleted_at IS NULL ORDER BY key, id LIMIT $2",
                        std::string(prefix), static_cast<std::int64_t>(limit)))
        out.push_back(object_from(row));
    return out;
}

rename_outcome rename_object(pqxx::connection& c, std::string_view provider, std::string_view bucket,
                             std::string_view from_key, std::string_view to_key, prefix_class to_class,
                             const std::optional<std::string>& job_id, const std::optional<std::string>& job_queue) {
    pqxx::work tx(c, "rename_object");
    const stats_row stats = lock_stats(tx, provider);
    const auto from = tx.exec_params(
        "SELECT id, size, sha256, api_key FROM objects WHERE provider = $1 AND bucket = $2 AND key = $3 "
        "AND deleted_at IS NULL FOR UPDATE",
        std::string(provider), std::string(bucket), std::string(from_key));
    if (from.empty()) {
        tx.commit();
        return rename_outcome::gone;
    }
    const auto from_id = from[0][0].as<std::int64_t>();
    const auto to = tx.exec_params(
        "SELECT id, size, sha256, api_key FROM objects WHERE provider = $1 AND bucket = $2 AND key = $3 "
        "AND deleted_at IS NULL FOR UPDATE",
        std::string(provider), std::string(bucket), std::string(to_key));
    // Whichever row does not survive gives its bytes back.
    const auto retire = [&](const pqxx::row& row) {
        const auto size = row[1].as<std::int64_t>();
        tx.exec_params("UPDATE objects SET deleted_at = now(), updated_at = now() WHERE id = $1", row[0].as<std::int64_t>());
        if (auto api_key = opt_text(row[3])) {
            lock_api_key(tx, *api_key);
            charge(tx, *api_key, -size, -1);
        }
        return size;
    };
    std::int64_t freed = 0;
    if (!to.empty()) {
        if (to[0][1].as<std::int64_t>() == from[0][1].as<std::int64_t>() &&
            to[0][2].as<std::string>() == from[0][2].as<std::string>()) {
            freed = retire(from[0]);  // the same bytes are there already: keep that row
            write_stats(tx, provider, stats, -freed, -1);
            tx.commit();
            return rename_outcome::renamed;
        }
        freed = retire(to[0]);  // replaced by the moved object
    }
    tx.exec_params(
        "UPDATE objects SET key = $2, prefix_class = $3, job_id = COALESCE($4, job_id), "
        "job_queue = COALESCE($5, job_queue), updated_at = now() WHERE id = $1",
        from_id, std::string(to_key), std::string(to_string(to_class)), param(job_id), param(job_queue));
    if (freed != 0) write_stats(tx, provider, stats, -freed, -1);
    tx.commit();
    return rename_outcome::renamed;
}

std::string_view to_string(relocate_outcome o) noexcept {
    switch (o) {
    case relocate_outcome::moved: return "moved";
    case relocate_outcome::already_moved: return "already moved";
    case relocate_outcome::gone: return "deleted meanwhile";
    case relocate_outcome::changed: return "replaced meanwhile";
    case relocate_outcome::destination_taken: return "the destination has an object at the key";
    case relocate_outcome::destination_full: return "the destination would pass its limit";
    }
    return "?";
}

tier_outcome set_object_tier(pqxx::connection& c, std::int64_t object_id, std::string_view sha256, tier from, tier to) {
    pqxx::work tx(c, "set_object_tier");
    const auto row = tx.exec_params(
        "UPDATE objects SET tier = $4, updated_at = now() WHERE id = $1 AND deleted_at IS NULL AND sha256 = $2 "
        "AND tier = $3 RETURNING id",
        object_id, std::string(sha256), std::string(to_string(from)), std::string(to_string(to)));
    tier_outcome out = tier_outcome::changed;
    if (row.empty()) {
        const auto now = tx.exec_params(
            "SELECT tier FROM objects WHERE id = $1 AND deleted_at IS NULL AND sha256 = $2", object_id, std::string(sha256));
        out = !now.empty() && now[0][0].as<std::string>() == to_string(to) ? tier_outcome::already : tier_outcome::gone;
    }
    tx.commit();
    return out;
}

std::optional<stored_object> find_object_by_id(pqxx::connection& c, std::int64_t object_id) {
    pqxx::read_transaction tx(c, "find_object_by_id");
    const auto rows =
        tx.exec_params("SELECT " + object_columns + " FROM objects WHERE id = $1 AND deleted_at IS NULL", object_id);
    if (rows.empty()) return std::nullopt;
    return object_from(rows[0]);
}

relocate_result relocate_object(pqxx::connection& c, std::int64_t object_id, std::string_view from_provider,
                                std::string_view to_provider, std::string_view to_bucket, std::string_view sha256,
                                std::string_view etag, const std::function<void(pqxx::dbtransaction&)>& with_move) {
    if (from_provider == to_provider) throw std::invalid_argument("relocate_object: the same provider at both ends");
    pqxx::work tx(c, "relocate_object");
    // Both stats rows first, in name order: the lock order every accounting transaction keeps.
    const bool from_first = from_provider < to_provider;
    stats_row first = lock_stats(tx, from_first ? from_provider : to_provider);
    stats_row second = lock_stats(tx, from_first ? to_provider : from_provider);
    const stats_row& from_stats = from_first ? first : second;
    const stats_row& to_stats = from_first ? second : first;

    const auto row = tx.exec_params(
        "SELECT provider, bucket, key, size, COALESCE(stored_sha256, sha256), deleted_at IS NOT NULL FROM objects "
        "WHERE id = $1 FOR UPDATE",
        object_id);
    const auto done = [&](relocate_outcome o) {
        tx.commit();
        return relocate_result{o, std::nullopt};
    };
    if (row.empty() || row[0][5].as<bool>()) return done(relocate_outcome::gone);
    const auto provider = row[0][0].as<std::string>();
    const auto key = row[0][2].as<std::string>();
    const auto size = row[0][3].as<std::int64_t>();
    if (row[0][4].as<std::string>() != sha256) return done(relocate_outcome::changed);
    if (provider == to_provider && row[0][1].as<std::string>() == to_bucket) {
        if (with_move) with_move(tx);
        return done(relocate_outcome::already_moved);
    }
    if (provider != from_provider) return done(relocate_outcome::changed);

    const auto taken = tx.exec_params(
        "SELECT 1 FROM objects WHERE provider = $1 AND bucket = $2 AND key = $3 AND deleted_at IS NULL",
        std::string(to_provider), std::string(to_bucket), key);
    if (!taken.empty()) return done(relocate_outcome::destination_taken);
    if (to_stats.total + size > to_stats.limit) return done(relocate_outcome::destination_full);

    tx.exec_params("UPDATE objects SET provider = $2, bucket = $3, etag = $4, updated_at = now() WHERE id = $1", object_id,
                   std::string(to_provider), std::string(to_bucket), std::string(etag));
    write_stats(tx, from_provider, from_stats, -size, -1);
    auto crossing = write_stats(tx, to_provider, to_stats, size, 1);
    if (with_move) with_move(tx);
    tx.commit();
    return relocate_result{relocate_outcome::moved, std::move(crossing)};
}

compression_outcome record_compression(pqxx::connection& c, std::int64_t object_id, std::string_view sha256,
                                       std::uint64_t size, std::string_view encoding, std::uint64_t stored_size,
                                       std::string_view stored_sha256, std::string_view etag) {
    pqxx::work tx(c, "record_compression");
    // The provider's stats row is the first lock every accounting transaction takes: find the
    // provider, lock its stats, then the row, and check the row again under its lock.
    const auto where = tx.exec_params("SELECT provider FROM objects WHERE id = $1 AND deleted_at IS NULL", object_id);
    const auto done = [&](compression_outcome o) {
        tx.commit();
        return o;
    };
    if (where.empty()) return done(compression_outcome::changed);
    const auto provider = where[0][0].as<std::string>();
    const stats_row stats = lock_stats(tx, provider);
    const auto row = tx.exec_params(
        "SELECT provider, size, sha256, content_encoding, stored_sha256, api_key FROM objects "
        "WHERE id = $1 AND deleted_at IS NULL FOR UPDATE",
        object_id);
    if (row.empty() || row[0][0].as<std::string>() != provider || row[0][2].as<std::string>() != sha256)
        return done(compression_outcome::changed);
    const auto current_encoding = opt_text(row[0][3]);
    if (current_encoding) {
        const bool same = *current_encoding == encoding && opt_text(row[0][4]) == std::string(stored_sha256);
        return done(same ? compression_outcome::already : compression_outcome::changed);
    }
    const std::int64_t old_size = row[0][1].as<std::int64_t>();
    if (old_size != to_db(size, "object size")) return done(compression_outcome::changed);
    const std::int64_t new_size = to_db(stored_size, "stored size");
    const auto api_key = opt_text(row[0][5]);
    if (api_key) lock_api_key(tx, *api_key);
    tx.exec_params(
        "UPDATE objects SET size = $2, etag = $3, content_encoding = $4, stored_sha256 = $5, content_size = $6, "
        "updated_at = now() WHERE id = $1",
        object_id, new_size, std::string(etag), std::string(encoding), std::string(stored_sha256), old_size);
    write_stats(tx, provider, stats, new_size - old_size, 0);
    if (api_key) charge(tx, *api_key, new_size - old_size, 0);
    tx.commit();
    return compression_outcome::compressed;
}

std::optional<full_crossing> ensure_provider(pqxx::connection& c, std::string_view provider,
                                             std::uint64_t limit_bytes) {
    const std::int64_t limit = to_db(limit_bytes, "provider limit");
    if (limit <= 0) throw error(errc::permanent, fmt::format("provider {}: limit must be positive", provider));
    pqxx::work tx(c, "ensure_provider");
    stats_row stats = lock_stats(tx, provider);
    if (stats.limit != limit) {
        tx.exec_params("UPDATE storage_stats SET limit_bytes = $2 WHERE provider = $1", std::string(provider), limit);
        stats.limit = limit;
    }
    auto crossing = write_stats(tx, provider, stats, 0, 0);  // re-derives is_full from the new limit
    tx.commit();
    return crossing;
}

std::vector<provider_stats> load_stats(pqxx::connection& c) {
    pqxx::read_transaction tx(c, "load_stats");
    std::vector<provider_stats> out;
    for (const auto& row : tx.exec("SELECT provider, total_bytes, file_count, limit_bytes, is_full, alert_sent, " +
                                   utc("last_updated") + " FROM storage_stats ORDER BY provider")) {
        out.push_back(provider_stats{row[0].as<std::string>(), from_db(row[1]), from_db(row[2]), from_db(row[3]),
                                     row[4].as<bool>(), row[5].as<bool>(), row[6].as<std::string>()});
    }
    return out;
}

std::optional<api_key_usage> load_api_key(pqxx::connection& c, std::string_view api_key) {
    pqxx::read_transaction tx(c, "load_api_key");
    const auto rows = tx.exec_params("SELECT quota_bytes, used_bytes, file_count FROM api_keys WHERE api_key = $1",
                                     std::string(api_key));
    if (rows.empty()) return std::nullopt;
    api_key_usage u;
    u.api_key = std::string(api_key);
    if (!rows[0][0].is_null()) u.quota_bytes = from_db(rows[0][0]);
    u.used_bytes = from_db(rows[0][1]);
    u.file_count = from_db(rows[0][2]);
    return u;
}

void set_quota(pqxx::connection& c, std::string_view api_key, std::optional<std::uint64_t> quota_bytes) {
    pqxx::work tx(c, "set_quota");
    const std::optional<std::string> quota =
        quota_bytes ? std::optional<std::string>(std::to_string(to_db(*quota_bytes, "quota"))) : std::nullopt;
    tx.exec_params(
        "INSERT INTO api_keys (api_key, quota_bytes) VALUES ($1, $2::bigint) "
        "ON CONFLICT (api_key) DO UPDATE SET quota_bytes = EXCLUDED.quota_bytes, updated_at = now()",
        std::string(api_key), param(quota));
    tx.commit();
}

std::vector<full_crossing> claim_due_alerts(pqxx::connection& c) {
    pqxx::work tx(c, "claim_due_alerts");
    // An UPDATE re-checks its WHERE clause after waiting for a row lock, so when two workers
    // claim at once only one of them gets each row.
    const auto rows = tx.exec_params(
        "UPDATE storage_stats SET alert_claimed_until = now() + make_interval(secs => $1) "
        "WHERE is_full AND NOT alert_sent AND (alert_claimed_until IS NULL OR alert_claimed_until < now()) "
        "AND (alert_next_at IS NULL OR alert_next_at <= now()) "
        "RETURNING provider, total_bytes, limit_bytes, alert_generation, alert_attempts",
        static_cast<std::int64_t>(alert_claim_lease.count()));
    tx.commit();
    std::vector<full_crossing> out;
    for (const auto& row : rows) out.push_back(crossing_from(row));
    return out;
}

bool mark_alert_sent(pqxx::connection& c, const full_crossing& crossing) {
    pqxx::work tx(c, "mark_alert_sent");
    const auto rows = tx.exec_params(
        "UPDATE storage_stats SET alert_sent = true, alert_claimed_until = NULL, alert_attempts = 0, "
        "alert_next_at = NULL, last_updated = now() WHERE provider = $1 AND alert_generation = $2 AND is_full "
        "RETURNING provider",
        crossing.provider, crossing.generation);
    tx.commit();
    return !rows.empty();
}

void release_alert(pqxx::connection& c, const full_crossing& crossing, std::chrono::milliseconds retry_after) {
    pqxx::work tx(c, "release_alert");
    tx.exec_params(
        "UPDATE storage_stats SET alert_claimed_until = NULL, alert_attempts = alert_attempts + 1, "
        "alert_next_at = now() + make_interval(secs => $3::double precision) "
        "WHERE provider = $1 AND alert_generation = $2 AND NOT alert_sent",
        crossing.provider, crossing.generation, static_cast<double>(retry_after.count()) / 1000.0);
    tx.commit();
}

// GCC 12 relocates class-type temporaries of a co_await full-expression bitwise (invalid frees),
// so each call below builds its awaitable in a statement of its own and then awaits it.
boost::asio::awaitable<record_result> catalog::record(object_record r) {
    auto op = db_->run([&r](pqxx::connection& c) { return record_object(c, r); });
    co_return co_await std::move(op);
}

boost::asio::awaitable<delete_result> catalog::remove(std::string provider, std::string bucket, std::string key) {
    auto op = db_->run([&](pqxx::connection& c) { return delete_object(c, provider, bucket, key); });
    co_return co_await std::move(op);
}

boost::asio::awaitable<std::vector<std::pair<std::string, std::int64_t>>> catalog::remove_many(
    std::string provider, std::string bucket, std::vector<std::string> keys) {
    auto op = db_->run([&](pqxx::connection& c) { return delete_objects(c, provider, bucket, keys); });
    co_return co_await std::move(op);
}

boost::asio::awaitable<std::vector<stored_object>> catalog::find_by_key(std::string key) {
    auto op = db_->run([&](pqxx::connection& c) { return find_objects_by_key(c, key); });
    co_return co_await std::move(op);
}

boost::asio::awaitable<std::vector<stored_object>> catalog::find_by_prefix(std::string prefix) {
    auto op = db_->run([&](pqxx::connection& c) { return find_objects_by_prefix(c, prefix); });
    co_return co_await std::move(op);
}

boost::asio::awaitable<rename_outcome> catalog::rename(std::string provider, std::string bucket, std::string from_key,
                                                       std::string to_key, prefix_class to_class,
                                                       std::optional<std::string> job_id,
                                                       std::optional<std::string> job_queue) {
    auto op = db_->run(
        [&](pqxx::connection& c) {
            return rename_object(c, provider, bucket, from_key, to_key, to_class, job_id, job_queue);
        },
        true);
    co_return co_await std::move(op);
}

boost::asio::awaitable<std::vector<provider_stats>> catalog::stats() {
    auto op = db_->run([](pqxx::connection& c) { return load_stats(c); });
    co_return co_await std::move(op);
}

boost::asio::awaitable<std::optional<api_key_usage>> catalog::api_key(std::string api_key) {
    auto op = db_->run([&](pqxx::connection& c) { return load_api_key(c, api_key); });
    co_return co_await std::move(op);
}

boost::asio::awaitable<std::optional<full_crossing>> catalog::ensure_provider(std::string provider,
                                                                               std::uint64_t limit) {
    auto op = db_->run([&](pqxx::connection& c) { return storage::ensure_provider(c, provider, limit); });
    co_return co_await std::move(op);
}

}  // namespace wharf::storage
