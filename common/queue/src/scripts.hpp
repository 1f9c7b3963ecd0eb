// The Lua scripts behind queue::operations: every multi-step change to a queue is one of these,
// so a worker killed between two steps can never lose or duplicate a job.
#pragma once

#include "wharf/redis/connection.hpp"

namespace wharf::queue::scripts {

const redis::script& retry_later();
const redis::script& dead_letter();
const redis::script& ack();
const redis::script& promote_due();
const redis::script& reclaim();
const redis::script& renew();
const redis::script& own_pending();
const redis::script& claim_id();
const redis::script& cancels_asked();
const redis::script& prune_consumers();
const redis::script& dead_requeue();
const redis::script& dead_purge();
const redis::script& held_ids();
const redis::script& requeue();
const redis::script& queue_depth();

}  // namespace wharf::queue::scripts
