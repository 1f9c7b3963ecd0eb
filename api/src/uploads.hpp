// Uploads through wharf-api (seeds 002 and 004): a file sent as multipart/form-data, streamed to
// a spool file (hashed as it arrives, never held in memory), then stored by the workers' own
// storing path (placement, the tenant's quota, the catalog, duplicate detection); its presigned
// URL; or a presigned PUT straight to the provider, read back and recorded when the client
// completes it; the move from temp/ to permanent, its deletion, the cleanup of a tenant's old temp
// uploads, and the presign cache's stats and clear.
//
// Keys: temp/<upload-id>/<file name> while `is_temp`, videos/<upload-id>/<file name> once
// permanent; the upload id is wharf's ("up_" and 20 hex digits), the file name the client's,
// sanitised.
#pragma once

#include "service.hpp"

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>

namespace wharf::api {

// The requests whose bodies the server hands over unread (server_options::stream_body).
bool is_upload(const http::server_request& req);
// server_options::max_streamed_body for settings.max_upload: the file plus its form's framing.
std::uint64_t max_upload_body(const settings& options);

// "clip (1).mp4" -> "clip_1_.mp4"; a path's last segment only; never empty, "." or "..".
std::string sanitize_file_name(std::string_view name);
// "true"/"false"/"1"/"0"/"yes"/"no"/"on"/"off"; nullopt otherwise.
std::optional<bool> form_bool(std::string_view text);
bool valid_upload_id(std::string_view id);
// "video/mp4": a type and subtype of RFC 6838's restricted names, without parameters, at most 127.
bool valid_media_type(std::string_view type);

boost::asio::awaitable<http::server_response> upload_create(service& s, const principal& who,
                                                            http::server_request& req);
// A presigned PUT: {filename, size, is_temp?, content_type?, expires?} -> the URL, the headers to
// send with it, and the upload's id; POST .../{id}/complete once the PUT is done: the object is
// read back (size as declared, SHA-256 computed) and recorded under the tenant's quota.
boost::asio::awaitable<http::server_response> upload_presign(service& s, const principal& who,
                                                             const http::server_request& req);
boost::asio::awaitable<http::server_response> upload_complete(service& s, const principal& who,
                                                              const http::server_request& req, std::string id);
boost::asio::awaitable<http::server_response> upload_get(service& s, const principal& who,
                                                         const http::server_request& req, std::string id);
boost::asio::awaitable<http::server_response> upload_make_permanent(service& s, const principal& who,
                                                                    const http::server_request& req, std::string id);
boost::asio::awaitable<http::server_response> upload_delete(service& s, const principal& who, std::string id);
boost::asio::awaitable<http::server_response> uploads_cleanup(service& s, const principal& who,
                                                              const http::server_request& req);
// Removes the spool files of uploads that a killed wharf-api left in `scratch_dir` (named
// upload-api-up_*, untouched for `idle`: another live process's upload keeps writing its own).
// Returns how many.
std::size_t sweep_spool_files(const std::filesystem::path& scratch_dir, std::chrono::seconds idle);

http::server_response presign_cache_stats(service& s);
http::server_response presign_cache_clear(service& s);

}  // namespace wharf::api
