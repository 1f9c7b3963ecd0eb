// The thin shells around the media cores: ffprobe and ffmpeg run as owned child processes
// (wharf/process/child.hpp: own process group, niced, PR_SET_PDEATHSIG, group killed on every
// exit path), their output fed to the pure parsers (probe.hpp, progress.hpp).
#pragma once

#include "wharf/media/probe.hpp"
#include "wharf/media/progress.hpp"
#include "wharf/process/child.hpp"

#include <boost/asio/awaitable.hpp>

#include <chrono>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace wharf::media {

struct tool_options {
    std::string ffprobe = "ffprobe";
    int nice = 10;
    std::chrono::milliseconds timeout{60'000};  // ffprobe reads headers: seconds, not minutes
    std::chrono::milliseconds kill_grace = process::default_kill_grace;
    probe_limits limits;
};

// ffprobe on a file. A file ffprobe cannot read is errc::undecodable with its last stderr lines;
// output beyond limits.max_bytes is errc::bad_probe_output (ffprobe is stopped). Throws for what is
// not the file's fault: ffprobe missing (std::system_error), the timeout (std::runtime_error),
// cancellation.
boost::asio::awaitable<result<probe_report>> probe_file(std::filesystem::path file, tool_options options);

struct ffmpeg_options {
    std::vector<std::string> argv;
    std::filesystem::path cwd;
    int nice = 10;
    std::chrono::milliseconds stall_timeout{120'000};  // no progress this long: the group is killed
    std::chrono::milliseconds kill_grace = process::default_kill_grace;
    std::function<void(const progress_block&)> on_progress;  // every block, as it completes
};

struct ffmpeg_run {
    process::exit_status status;
    bool ended = false;    // a progress=end block was seen
    bool stalled = false;  // stopped because nothing progressed for stall_timeout
    std::optional<progress_block> last;
    std::vector<std::string> stderr_tail;
    // Exit 0 and progress=end, not stopped: the only success. (Outputs are checked on top.)
    bool success() const noexcept { return status.success() && ended && !stalled; }
    // "ffmpeg stalled ...", "ffmpeg exit code 1: <stderr lines>" ...
    std::string describe() const;
};

// Runs ffmpeg to its end, a stall, or the caller's cancellation. Whatever ends it, the process
// group is stopped (SIGTERM, SIGKILL after kill_grace) before this returns or rethrows. Throws
// only for cancellation and for a program that cannot be started.
boost::asio::awaitable<ffmpeg_run> run_ffmpeg(ffmpeg_options options);

}  // namespace wharf::media
