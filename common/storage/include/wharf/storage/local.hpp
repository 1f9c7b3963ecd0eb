// The local filesystem backend: the embedded default, so wharf runs with no cloud account.
//
// Layout and guarantees:
// - A key maps to <root>/<key>. Keys are validated (invalid_key_reason) and then resolved one
//   component at a time with openat(O_NOFOLLOW) from a descriptor of the root, so neither ".."
//   nor a symlink anywhere under the root (planted before or during the operation) can lead
//   outside it: symlinks under the root are never followed, they are refused (invalid_key).
// - Writes are atomic: a temp file ".wharf-tmp-<random>-<leaf>" in the target folder, fsync,
//   rename over the key, fsync of the folder. Readers see the old object or the new one.
// - The SHA-256 of the object is computed while writing (or carried from put_options.sha256) and
//   stored in the extended attribute `user.wharf.sha256` of the file, so it moves with the file
//   atomically on rename (a sidecar could not). get_to_file verifies it. On a filesystem without
//   user xattrs, objects are stored without it (head() reports no sha256; nothing to verify).
// - Presign: GET returns a file:// URL of the object's path (useful only on this machine; expiry
//   cannot be enforced); PUT is refused (storage::error permanent): a writer must go through
//   put_* to keep writes atomic.
// - Incomplete uploads are temp files left by a crash, listed once older than stale_temp_after.
// - Tiers: with a cold_root (a folder outside the root, typically on cheaper disks), a cold object's
//   file lives at <cold_root>/<key> instead, with the same guarantees (O_NOFOLLOW walk, xattr).
//   set_tier moves it (rename within one filesystem, else copy to a temp file, SHA-256 checked,
//   fsync, rename, then unlink of the old file) and every read path -- get_to_file, head,
//   remove, remove_many, list, copy, presign -- finds it in either folder (the root first: a move
//   cut short by a crash leaves both files, which hold the same bytes). A put writes to the root
//   and removes a cold copy of the key (a new object is hot). Hot and warm both live in the root:
//   a local disk has no "infrequent access" class. Without a cold_root the provider has no tiers.
// - All file I/O runs on the storage library's blocking pool, never on the caller's I/O thread.
#pragma once

#include "wharf/storage/provider.hpp"

#include <chrono>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>

namespace wharf::storage {

class part_sink;

struct local_options {
    std::chrono::seconds stale_temp_after{3600};
    bool fsync = true;  // off only for tests and benchmarks that do not care about power loss
    // Where cold objects live; created when missing. Must not be inside the root, nor hold it.
    std::optional<std::filesystem::path> cold_root;
};

class local_provider final : public provider {
public:
    // Creates `root` (and parents) when missing. Throws storage::error when it cannot.
    local_provider(std::string name, std::filesystem::path root, local_options options = {});
    ~local_provider() override;

    const std::string& name() const noexcept override { return name_; }
    std::string_view kind() const noexcept override { return "local"; }
    const std::string& bucket() const noexcept override { return root_string_; }

    boost::asio::awaitable<put_result> put_file(std::string key, std::filesystem::path source,
                                                put_options options) override;
    boost::asio::awaitable<put_result> put_bytes(std::string key, std::string data, put_options options) override;
    boost::asio::awaitable<object_info> get_to_file(std::string key, std::filesystem::path destination,
                                                    std::optional<byte_range> range = {}) override;
    boost::asio::awaitable<std::optional<object_info>> head(std::string key) override;
    boost::asio::awaitable<void> remove(std::string key) override;
    boost::asio::awaitable<std::vector<std::string>> remove_many(std::vector<std::string> keys) override;
    boost::asio::awaitable<list_page> list(std::string prefix, std::optional<std::string> continuation,
                                           std::size_t max_keys = 1000) override;
    boost::asio::awaitable<void> copy(std::string source_key, std::string destination_key) override;
    std::string presign(http_method method, const std::string& key, std::chrono::seconds expires) const override;
    boost::asio::awaitable<std::vector<incomplete_upload>> list_incomplete(std::string prefix) override;
    // Parts appended in order, one at a time, to a temp file committed by complete() like any put.
    std::unique_ptr<part_sink> stream_sink(std::string key) override;
    boost::asio::awaitable<void> abort_incomplete(std::string key, std::string upload_id) override;
    std::optional<std::string> tier_class(storage::tier t) const override;
    boost::asio::awaitable<void> set_tier(std::string key, storage::tier t) override;

    struct state;  // detail, shared with the blocking tasks

private:
    std::string name_;
    std::string root_string_;
    std::shared_ptr<state> state_;
};

}  // namespace wharf::storage
