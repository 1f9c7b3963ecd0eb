// The one way wharf deletes stored objects it has catalogued: at their providers first, then their
// rows with the usage (provider and tenant) in one transaction per provider and bucket. The
// cleanup tasks (temp_objects, failed_jobs), `wharfctl jobs delete` and the lifecycle's expiry
// all go through remove_objects.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <nlohmann/json.hpp>

#include <cstdint>
#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace wharf::storage {
class catalog;
class registry;
}  // namespace wharf::storage

namespace wharf::maintenance {

// A catalog row to delete, object and row (temp_objects, failed_jobs).
struct catalog_object {
    std::int64_t id = 0;
    std::string provider, bucket, key;
    std::int64_t size = 0;
};

// What remove_objects did, summed over a run's batches.
struct removal_tally {
    std::int64_t deleted = 0, freed_bytes = 0;
    std::int64_t failed = 0;   // the provider kept them (or refused the request): rows kept, for the next run
    std::int64_t skipped = 0;  // on a provider (or bucket) this process does not have: left for a run that has it
    std::vector<std::string> errors;  // the first few, for the run's error
    // Throws the run's error when objects could not be deleted ("<failed> of <examined> <what> ...").
    void throw_if_failed(std::string_view what, std::int64_t examined) const;
    // A dry run's count of an object it would delete.
    void would_delete(const catalog_object& o) {
        ++deleted;
        freed_bytes += o.size;
    }
    // deleted_objects, freed_bytes, freed_gb, skipped_unconfigured: the part of a task's result.
    nlohmann::json counts() const;
};

// Deletes the objects at their providers, each provider and bucket through its batch delete, then
// the rows of those that are gone, one transaction per provider and bucket (the catalog decrements
// usage in it). Provider first: a run killed in between leaves rows whose objects are gone; the
// next run deletes them again (absent is not an error) and removes the rows. Returns the ids of the
// objects not removed (failed or skipped).
boost::asio::awaitable<std::set<std::int64_t>> remove_objects(const storage::registry& providers,
                                                              storage::catalog& catalog,
                                                              const std::vector<catalog_object>& objects,
                                                              removal_tally& tally);

}  // namespace wharf::maintenance
