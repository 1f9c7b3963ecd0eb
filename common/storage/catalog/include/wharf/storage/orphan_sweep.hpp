// The sweep of orphaned multipart uploads: the journal's rows and every provider's listing of
// incomplete uploads, judged by find_orphans (multipart_journal.hpp), and with `abort` each
// orphan aborted at its provider and its row removed. `wharfctl storage orphans` and the
// `stale_multipart` maintenance task both run it.
#pragma once

#include "wharf/pg/pool.hpp"
#include "wharf/storage/multipart_journal.hpp"
#include "wharf/storage/registry.hpp"

#include <boost/asio/awaitable.hpp>

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

namespace wharf::storage {

struct swept_orphan {
    orphan o;
    std::string state;  // open (not aborted: a dry run) | aborted | failed
    std::string error;
};

struct orphan_sweep {
    std::vector<swept_orphan> orphans;
    std::size_t aborted = 0, failed = 0;
    std::vector<std::string> errors;  // providers whose listing failed
};

// With `abort`, at most `abort_limit` orphans are aborted (the oldest); the rest stay `open`.
boost::asio::awaitable<orphan_sweep> sweep_orphaned_uploads(pg::pool& db, const registry& providers,
                                                            std::chrono::seconds older_than, bool abort,
                                                            std::size_t abort_limit = SIZE_MAX);

}  // namespace wharf::storage
