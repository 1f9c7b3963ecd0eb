// Pipelines in the worker (the state machine is wharf/pipeline/plan.hpp):
//  - the `pipeline` job type: a submission. It validates the payload, creates the pipeline and
//    enqueues its first step; its own row then says `waiting` (job_type::completes_later) until
//    the last step's end writes the pipeline's final state into it.
//  - the advancer, which every worker runs as the runtime's child_finished hook: when a step (a job
//    whose parent_id names a pipeline) ends, it records that in the pipeline's row and enqueues
//    what comes next. No step holds a slot while another runs.
//
// Payload of a submission:
//   {"source": {"url": "https://..."} | {"provider", "key", "sha256"?} | "/local/path",
//    "video_id": "clip-42" (default: the pipeline id), "renditions": ["360p", "720p"] (default: the
//    transcode ladder), "fan_out": false, "provider", "presign_expires",
//    "download": {...options of the download step}, "transcode": {...options of the transcode step}}
// Result (recorded while it waits): {"pipeline", "status", "steps": [names]}. The pipeline's final
// result replaces it: the publish step's artifacts with presigned URLs (and "duplicate": true with
// "original_pipeline" when the tenant processed the same source bytes before).
#pragma once

#include "wharf/pg/pool.hpp"
#include "wharf/pipeline/store.hpp"
#include "wharf/redis/connection.hpp"
#include "wharf/worker/registry.hpp"
#include "wharf/worker/runtime.hpp"

#include <boost/asio/awaitable.hpp>

#include <memory>

namespace wharf::worker {

// What submissions and the advancer share: the database (the pipelines table) and a Redis
// connection to enqueue steps and ask for cancels.
class pipeline_services {
public:
    pipeline_services(pg::pool& db, redis::connection& redis) : db_(db), redis_(redis) {}

    // pipeline::apply on this connection.
    boost::asio::awaitable<void> apply(const pipeline::transition& t) { return pipeline::apply(redis_, t); }
    // The runtime's child_finished hook.
    boost::asio::awaitable<void> on_child_finished(child_finished event);
    child_finished_hook hook();

    pg::pool& db() noexcept { return db_; }
    redis::connection& redis() noexcept { return redis_; }

private:
    pg::pool& db_;
    redis::connection& redis_;
};

job_type pipeline_job_type(std::shared_ptr<pipeline_services> services);
void register_pipeline_job(job_registry& registry, std::shared_ptr<pipeline_services> services);

}  // namespace wharf::worker
