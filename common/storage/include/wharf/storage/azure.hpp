// The Azure Blob backend, over the one HTTP client, signed with SharedKey (azure_auth.hpp).
//
// - put: Put Blob up to single_put_max, else the multipart engine with Put Block (fixed-length
//   base64 block ids, Content-MD5 per block) and Put Block List. The object's SHA-256 is stored
//   as metadata x-ms-meta-sha256 and verified by get_to_file.
// - get (ranged, x-ms-range), head (Get Blob Properties), delete, list (prefix, marker), copy
//   (Copy Blob within the account, x-ms-copy-source; a pending copy is polled to its end).
// - batch delete: Blob Batch, up to 256 Delete Blob subrequests per request (azure_batch.hpp);
//   202 and 404 count as deleted, any other status is reported by key.
// - presign: a blob service SAS ("r" for GET, "cw" for PUT: the writer must send
//   x-ms-blob-type: BlockBlob), expiry clamped to [1 s, 7 days], start 5 minutes back for skew.
// - abort / incomplete uploads: Azure has no upload object. A blob that has only uncommitted
//   blocks is cleaned by committing an empty block list (which discards uncommitted blocks) and
//   deleting the empty blob, both conditional so a concurrent writer is never clobbered. When a
//   committed blob of that name already exists, its uncommitted blocks are left to Azure's
//   garbage collection (7 days): discarding them would need re-committing the blob.
#pragma once

#include "wharf/core/backoff.hpp"
#include "wharf/storage/multipart.hpp"
#include "wharf/storage/provider.hpp"

#include <boost/asio/any_io_executor.hpp>

#include <chrono>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace wharf::storage::azure {

// The upload id of every Azure block upload (list_incomplete, part_sink::upload_id): blocks
// attach to the blob's name, so abort_incomplete(key, id) discards the key's uncommitted blocks.
inline constexpr std::string_view uncommitted_upload_id = "uncommitted";

struct config {
    std::string name = "azure";
    std::string account;
    std::string key;        // base64 account key, as Azure shows it; never logged
    std::string container;
    // Empty: https://<account>.blob.core.windows.net. Emulators are path-style, with the account
    // in the path: "http://127.0.0.1:10000/devstoreaccount1".
    std::string endpoint;
    std::uint64_t single_put_max = 64ull << 20;  // put_file above this uses blocks
    engine_limits engine;
    std::chrono::milliseconds timeout{30'000};   // per network step (see http::request_options)
    backoff_policy retry{std::chrono::milliseconds(200), std::chrono::seconds(10), 5};  // non-block calls
    bool verify_tls = true;
    std::optional<std::filesystem::path> ca_file;
};

// Throws storage::error(permanent) when the config is unusable (bad key, bad endpoint).
std::unique_ptr<storage::provider> make_provider(boost::asio::any_io_executor executor, config c);

// Creates the container if it does not exist (first run, tests). `p` must come from make_provider.
boost::asio::awaitable<void> create_container(storage::provider& p);

// The block-upload part_sink for `key`, to drive the engine directly (tests, tools).
std::unique_ptr<part_sink> make_part_sink(storage::provider& p, std::string key);

// Tiers as access tiers: hot Hot, warm Cool, cold Cold (the Cold tier needs x-ms-version
// 2021-12-02, which this client sends; Azurite 3.35 accepts it too). Archive is not used: an
// archived blob cannot be read until it is rehydrated, which would break every read path. Pure.
std::string_view access_tier_for(storage::tier t) noexcept;

// The fixed-length block id of part `number`: base64 of "wharf-block-NNNNNN".
std::string block_id(std::uint32_t number);

}  // namespace wharf::storage::azure
