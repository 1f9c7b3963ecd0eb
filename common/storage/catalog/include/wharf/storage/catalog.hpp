// The object catalog in PostgreSQL and the accounting that goes with it: every change to an
// `objects` row updates `storage_stats` (per provider) and `api_keys` (per tenant) in the same
// transaction, so usage is always the sum of the live rows.
//
// Idempotency: a live row is keyed by (provider, bucket, key). Recording an object that is
// already recorded with the same size and SHA-256 changes nothing, so a retried upload job (or
// one that crashed after the commit) never counts a byte twice; replacing an object adjusts usage
// by the difference. A crash before the commit leaves nothing, and the retry records once.
//
// Concurrency: every change locks the provider's storage_stats row first (then the api_keys
// rows, then the object row), so recorders of one provider serialise there and the decision
// "this change made the provider full" is taken by exactly one transaction.
//
// The functions taking pqxx::connection& block: call them inside pg::pool::run. `catalog` wraps
// them for coroutines.
#pragma once

#include "wharf/pg/pool.hpp"  // pg::pool and the pqxx::connection declaration
#include "wharf/storage/placement.hpp"
#include "wharf/storage/tier.hpp"

#include <boost/asio/awaitable.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>


namespace pqxx {
class dbtransaction;  // libpqxx 6.4
}  // namespace pqxx

namespace wharf::storage {

enum class prefix_class { temp, permanent };
std::string_view to_string(tier t) noexcept;
std::string_view to_string(prefix_class c) noexcept;
std::optional<prefix_class> prefix_class_from_string(std::string_view s) noexcept;

struct object_record {
    std::string provider, bucket, key;
    std::uint64_t size = 0;
    std::string sha256;  // lower-case hex
    std::string etag;
    std::optional<std::string> api_key;
    std::optional<std::string> job_id;
    std::optional<std::string> job_queue;  // with job_id: the job is (queue, id)
    storage::tier tier = tier::hot;
    storage::prefix_class prefix_class = prefix_class::permanent;
    // Set together for an object stored encoded (the compress job's gzip): size and etag are the
    // stored bytes', sha256 the decoded content's, stored_sha256 the stored bytes'.
    std::optional<std::string> content_encoding;
    std::optional<std::string> stored_sha256;
    std::optional<std::uint64_t> content_size;
    // The SHA-256 of the bytes the provider holds.
    const std::string& stored_digest() const noexcept { return stored_sha256 ? *stored_sha256 : sha256; }
};

struct stored_object {
    std::int64_t id = 0;
    object_record record;
    std::string created_at, updated_at;  // RFC 3339 as PostgreSQL prints it
};

// A change that made a provider full. The transaction that made it also claimed the alert for
// `generation`, so the caller sends it (after the commit) and then calls mark_alert_sent.
struct full_crossing {
    std::string provider;
    std::uint64_t used_bytes = 0;
    std::uint64_t limit_bytes = 0;
    std::int64_t generation = 0;
    std::uint32_t failed_sends = 0;  // earlier attempts to send this crossing's alert that failed
};

enum class record_outcome { inserted, replaced, unchanged };

struct record_result {
    record_outcome outcome = record_outcome::unchanged;
    std::int64_t delta_bytes = 0;  // change of the provider's total
    std::optional<full_crossing> crossing;
};

struct delete_result {
    bool removed = false;  // false: there was no live row
    std::int64_t delta_bytes = 0;
};

struct provider_stats {
    std::string provider;
    std::uint64_t total_bytes = 0;
    std::uint64_t file_count = 0;
    std::uint64_t limit_bytes = default_limit_bytes;
    bool is_full = false;
    bool alert_sent = false;
    std::string last_updated;  // RFC 3339 UTC
};

struct api_key_usage {
    std::string api_key;
    std::optional<std::uint64_t> quota_bytes;  // nullopt = unlimited
    std::uint64_t used_bytes = 0;
    std::uint64_t file_count = 0;
};

// How long a claimed alert stays claimed before another worker may retry it (a sender that
// crashed mid-send).
inline constexpr std::chrono::seconds alert_claim_lease{120};

// Inserts, replaces or (same size and SHA-256) leaves the live row, and adjusts usage. Throws
// storage::error(errc::quota_exceeded) when the object's API key would pass its quota; nothing
// is changed then.
record_result record_object(pqxx::connection& c, const object_record& r);
// Marks the live row deleted and gives its bytes back. Usage dropping below the limit resets
// is_full and alert_sent.
delete_result delete_object(pqxx::connection& c, std::string_view provider, std::string_view bucket,
                            std::string_view key);
// delete_object for many keys of one provider and bucket, in one transaction (the usage rows
// locked once: the provider's, then each API key's in name order). Returns the keys that had a
// live row, each with the bytes given back.
std::vector<std::pair<std::string, std::int64_t>> delete_objects(pqxx::connection& c, std::string_view provider,
                                                                 std::string_view bucket,
                                                                 const std::vector<std::string>& keys);
std::optional<stored_object> find_object(pqxx::connection& c, std::string_view provider, std::string_view bucket,
                                         std::string_view key);
// Live rows with this key on any provider (a key is placed on one provider at a time, but a
// replace may have moved it).
std::vector<stored_object> find_objects_by_key(pqxx::connection& c, std::string_view key);

// Live rows whose key starts with `prefix` (e.g. a pipeline's "temp/<id>/"), by key; at most
// `limit` of them.
std::vector<stored_object> find_objects_by_prefix(pqxx::connection& c, std::string_view prefix,
                                                  std::size_t limit = 100'000);

// A stored object moved to another key of the same provider and bucket (the caller copied the
// bytes there first and removes the old key afterwards): its live row takes the new key, class
// and job in one transaction, so usage does not change and a tenant near its quota can still
// publish what it already stored. A live row at the new key with the same bytes is kept (the
// old row goes); one with other bytes is replaced. Idempotent: once the old row is gone it
// reports `gone`.
enum class rename_outcome { renamed, gone };
rename_outcome rename_object(pqxx::connection& c, std::string_view provider, std::string_view bucket,
                             std::string_view from_key, std::string_view to_key, prefix_class to_class,
                             const std::optional<std::string>& job_id, const std::optional<std::string>& job_queue);

// A stored object moved to another provider (the caller put and verified the bytes there first
// and removes the source afterwards): the live row `object_id` keeps its id, created_at (the
// object's age), tenant, job, tier and class, and takes the destination's provider, bucket and
// etag; both providers' usage change in the same transaction, the tenant's does not. Nothing
// changes unless the row is still live on `from_provider` holding `sha256`. Idempotent: a row
// already on the destination with those bytes reports already_moved.
enum class relocate_outcome {
    moved,
    already_moved,
    gone,               // deleted meanwhile
    changed,            // replaced by other bytes meanwhile (or moved elsewhere)
    destination_taken,  // the destination has a live row at the key
    destination_full,   // the destination would pass its limit
};
struct relocate_result {
    relocate_outcome outcome = relocate_outcome::gone;
    std::optional<full_crossing> crossing;  // the move filled the destination to exactly its limit
};
// `with_move`, when given, runs in the same transaction after a move (moved or already_moved), so
// the caller's own record of it (a migration's manifest) commits with it or not at all.
relocate_result relocate_object(pqxx::connection& c, std::int64_t object_id, std::string_view from_provider,
                                std::string_view to_provider, std::string_view to_bucket, std::string_view sha256,
                                std::string_view etag,
                                const std::function<void(pqxx::dbtransaction&)>& with_move = {});
// A stored object's tier changed at its provider (the caller did that first): the live row
// `object_id` takes `to` if it still holds `sha256` and is in tier `from`. Its created_at (the
// object's age) stays; usage does not change (a tier is not a size). Idempotent: a row already in
// `to` reports already; one deleted or replaced meanwhile, gone.
enum class tier_outcome { changed, already, gone };
tier_outcome set_object_tier(pqxx::connection& c, std::int64_t object_id, std::string_view sha256, tier from, tier to);

// A stored object recompressed under its own key (the compress job put the encoded bytes there
// and read them back first): the live row `object_id`, if it still holds `sha256` unencoded at
// `size` bytes, takes the stored size, etag, encoding and stored SHA-256 (sha256 stays the
// content's, created_at the object's age), and its provider's and tenant's usage drop by the
// bytes saved, in one transaction. Idempotent: a row already holding exactly that encoding
// reports already; one deleted or replaced meanwhile, changed.
enum class compression_outcome { compressed, already, changed };
compression_outcome record_compression(pqxx::connection& c, std::int64_t object_id, std::string_view sha256,
                                       std::uint64_t size, std::string_view encoding, std::uint64_t stored_size,
                                       std::string_view stored_sha256, std::string_view etag);

// A live row by id; nullopt when there is none (or it was deleted).
std::optional<stored_object> find_object_by_id(pqxx::connection& c, std::int64_t object_id);
std::string_view to_string(relocate_outcome o) noexcept;

// Creates the provider's row or updates its limit (from configuration) and re-derives is_full.
// A limit raised above usage resets the flags; lowered to or below usage marks it full and
// returns the crossing to alert about.
std::optional<full_crossing> ensure_provider(pqxx::connection& c, std::string_view provider,
                                             std::uint64_t limit_bytes);
std::vector<provider_stats> load_stats(pqxx::connection& c);
std::optional<api_key_usage> load_api_key(pqxx::connection& c, std::string_view api_key);
// Creates the key's row when missing.
void set_quota(pqxx::connection& c, std::string_view api_key, std::optional<std::uint64_t> quota_bytes);

// Alerts that are due: full, not sent, not claimed (or the claim expired) and past their
// backoff. Claims them (one claimer wins each) for alert_claim_lease.
std::vector<full_crossing> claim_due_alerts(pqxx::connection& c);
// The alert of `generation` went out: alert_sent = true. False when the crossing is gone
// (usage dropped meanwhile, or a newer crossing) -- nothing is changed then.
bool mark_alert_sent(pqxx::connection& c, const full_crossing& crossing);
// Sending failed: release the claim and try again not before now + retry_after.
void release_alert(pqxx::connection& c, const full_crossing& crossing, std::chrono::milliseconds retry_after);

// The same for coroutines, on the pool's threads. Recording and deleting are retried by the pool
// on a broken connection only where that is safe (they are idempotent by construction).
class catalog {
public:
    explicit catalog(pg::pool& db) : db_(&db) {}
    boost::asio::awaitable<record_result> record(object_record r);
    boost::asio::awaitable<delete_result> remove(std::string provider, std::string bucket, std::string key);
    boost::asio::awaitable<std::vector<std::pair<std::string, std::int64_t>>> remove_many(std::string provider,
                                                                                          std::string bucket,
                                                                                          std::vector<std::string> keys);
    boost::asio::awaitable<std::vector<stored_object>> find_by_key(std::string key);
    boost::asio::awaitable<std::vector<stored_object>> find_by_prefix(std::string prefix);
    boost::asio::awaitable<rename_outcome> rename(std::string provider, std::string bucket, std::string from_key,
                                                  std::string to_key, prefix_class to_class,
                                                  std::optional<std::string> job_id,
                                                  std::optional<std::string> job_queue);
    boost::asio::awaitable<std::vector<provider_stats>> stats();
    boost::asio::awaitable<std::optional<api_key_usage>> api_key(std::string api_key);
    boost::asio::awaitable<std::optional<full_crossing>> ensure_provider(std::string provider, std::uint64_t limit);
    pg::pool& db() const noexcept { return *db_; }

private:
    pg::pool* db_;
};

}  // namespace wharf::storage
