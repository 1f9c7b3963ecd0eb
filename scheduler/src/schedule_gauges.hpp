// The schedules' state as gauges, read from PostgreSQL at scrape time (so every replica reports
// the same, true figures): wharf_schedule_last_fire_timestamp_seconds (when its newest fire was
// enqueued), wharf_schedule_missed_slots and wharf_schedule_skipped_fires (since it was created),
// wharf_schedule_paused.
#pragma once

#include <boost/asio/awaitable.hpp>

namespace wharf::pg {
class pool;
}

namespace wharf::scheduler {

boost::asio::awaitable<void> refresh_schedule_gauges(pg::pool& db);

}  // namespace wharf::scheduler
