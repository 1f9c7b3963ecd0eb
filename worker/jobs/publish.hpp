// The `publish` job type: a pipeline's last step (wharf/pipeline/plan.hpp decides its payload).
// It moves the pipeline's outputs from its temp/ prefix to their permanent keys under
// processed/<video_id>/ (server-side copies, 8 at a time, each catalog row renamed in one
// transaction so usage does not change), puts the original there as raw/video_original.<ext>,
// presigns the artifacts a client downloads, and removes whatever else the pipeline left under
// temp/. With "discard" it only removes the pipeline's temp objects (a failed or cancelled
// pipeline).
//
// Payload (publish): {"pipeline", "video_id", "from_prefix": "temp/<p>/out/",
//   "to_prefix": "processed/<video_id>/", "remove_prefix": "temp/<p>/",
//   "original": {"provider", "key", "sha256"?, "size"?, "to"}, "transcodes": [results],
//   "write_master": bool, "presign_expires"?}
// Payload (discard): {"pipeline", "discard": true, "remove_prefix": "temp/<p>/"}
// Result (publish): {"video_id", "artifacts": {"<name>": {provider, bucket, key, size, sha256, etag,
//   presigned_url, expires_in}}, "objects": N, "bytes": B}, names as the seeds' file types: 360p,
//   720p, ... (video renditions), audio, hls_master, hls_<rendition>, thumbnails, metadata, original.
// Result (discard): {"removed_objects": N, "freed_bytes": B}
#pragma once

#include "storing.hpp"
#include "wharf/worker/registry.hpp"

#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace wharf::worker {

// The file-type name of a published key relative to the video's folder ("360p/video_360p.mp4" ->
// "360p", "360p/segments/playlist.m3u8" -> "hls_360p", "hls/master.m3u8" -> "hls_master"); none
// for the files a client does not fetch by name (segments, sprite images). Pure.
std::optional<std::string> artifact_name(std::string_view relative_key);

job_type publish_job_type(std::shared_ptr<storage_services> services);
void register_publish_job(job_registry& registry, std::shared_ptr<storage_services> services);

}  // namespace wharf::worker
