// ffprobe and ffmpeg as owned child processes (see tools.hpp).
#include "wharf/media/tools.hpp"

#include "wharf/asio/first_failure.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/multiple_exceptions.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <fmt/format.h>

#include <array>
#include <stdexcept>

namespace wharf::media {

namespace asio = boost::asio;
using namespace asio::experimental::awaitable_operators;
using clock_type = std::chrono::steady_clock;

namespace {

std::string join(const std::vector<std::string>& lines) {
    std::string out;
    for (const auto& l : lines) {
        if (!out.empty()) out += "; ";
        out += l;
    }
    return out;
}

// ffprobe's stdout, whole, up to `limit` bytes (then it stops reading: *over is set).
asio::awaitable<void> read_all(process::child& c, std::string& out, std::size_t limit, bool& over) {
    std::array<char, 16384> buf;
    for (;;) {
        // EOF ends the output: branched on, not thrown.
        auto [ec, n] = co_await c.stdout_pipe().async_read_some(asio::buffer(buf), asio::as_tuple(asio::use_awaitable));
        if (out.size() + n > limit) {
            over = true;
            c.kill();  // it would block on a full pipe; its stderr and exit now end the run
            co_return;
        }
        out.append(buf.data(), n);
        if (ec == asio::error::eof) co_return;
        if (ec) throw boost::system::system_error(ec, "reading ffprobe's output");
    }
}

asio::awaitable<void> expire(std::chrono::milliseconds after) {
    asio::steady_timer timer(co_await asio::this_coro::executor, after);
    co_await timer.async_wait(asio::use_awaitable);
}

using wharf::first_failure_of;

// ffprobe's run: true when it finished (exit observed), false on timeout or oversized output.
asio::awaitable<bool> probe_run(process::child& c, std::string& out, std::size_t limit, bool& over,
                                std::chrono::milliseconds timeout) {
    auto io = (read_all(c, out, limit, over) && c.read_stderr() && c.wait_exit());
    auto race = first_failure_of(std::move(io) || expire(timeout));
    const auto ended = co_await std::move(race);
    co_return ended.index() == 0 && !over;
}

struct ffmpeg_state {
    progress_parser parser;
    clock_type::time_point last_advance = clock_type::now();
    std::optional<progress_block> last;
    const std::function<void(const progress_block&)>* on_progress = nullptr;
};

bool advances(const std::optional<progress_block>& before, const progress_block& now) {
    if (!before) return true;
    const auto grew = [](const auto& a, const auto& b) { return b && (!a || *b > *a); };
    return now.end || grew(before->out_time_us, now.out_time_us) || grew(before->frame, now.frame) ||
           grew(before->total_size, now.total_size);
}

asio::awaitable<void> read_progress(process::child& c, ffmpeg_state& st) {
    std::array<char, 4096> buf;
    for (;;) {
        // EOF: ffmpeg closed its stdout (it is ending). Branched on, not thrown.
        auto [ec, n] = co_await c.stdout_pipe().async_read_some(asio::buffer(buf), asio::as_tuple(asio::use_awaitable));
        for (const auto& block : st.parser.feed(std::string_view(buf.data(), n))) {
            if (advances(st.last, block)) st.last_advance = clock_type::now();
            st.last = block;
            if (st.on_progress && *st.on_progress) (*st.on_progress)(block);
        }
        if (ec == asio::error::eof) co_return;
        if (ec) throw boost::system::system_error(ec, "reading ffmpeg's progress");
    }
}

// Returns when nothing has progressed for `stall` (the caller then stops ffmpeg).
asio::awaitable<void> watch_stall(ffmpeg_state& st, std::chrono::milliseconds stall) {
    asio::steady_timer timer(co_await asio::this_coro::executor);
    for (;;) {
        const auto due = st.last_advance + stall;
        if (clock_type::now() >= due) co_return;
        timer.expires_at(due);
        co_await timer.async_wait(asio::use_awaitable);
    }
}

// ffmpeg's run: true when it stalled.
asio::awaitable<bool> supervise(process::child& c, ffmpeg_state& st, std::chrono::milliseconds stall) {
    auto io = (read_progress(c, st) && c.read_stderr() && c.wait_exit());
    auto race = first_failure_of(std::move(io) || watch_stall(st, stall));
    const auto ended = co_await std::move(race);
    co_return ended.index() == 1;
}

}  // namespace

asio::awaitable<result<probe_report>> probe_file(std::filesystem::path file, tool_options options) {
    process::spawn_options spawn;
    spawn.argv = ffprobe_argv(options.ffprobe, file);
    spawn.nice = options.nice;
    process::child c(co_await asio::this_coro::executor, std::move(spawn));
    std::string out;
    bool over = false;
    auto run = probe_run(c, out, options.limits.max_bytes, over, options.timeout);
    auto owned = process::run_owned(c, std::move(run), options.kill_grace);
    const bool finished = co_await std::move(owned);
    if (over)
        co_return problem{errc::bad_probe_output,
                          fmt::format("ffprobe wrote more than {} bytes about {}", options.limits.max_bytes,
                                      file.filename().string())};
    if (!finished) throw std::runtime_error(fmt::format("ffprobe did not finish within {} s", options.timeout.count() / 1000));
    const auto status = c.status().value_or(process::exit_status{});
    if (!status.success()) {
        std::string why = c.stderr_text();
        if (why.empty()) why = "ffprobe " + status.describe();
        co_return problem{errc::undecodable, "ffprobe cannot read the source: " + why};
    }
    co_return parse_probe(out, options.limits);
}

std::string ffmpeg_run::describe() const {
    std::string what;
    if (stalled) what = "ffmpeg made no progress and was stopped (" + status.describe() + ")";
    else if (status.success() && !ended) what = "ffmpeg exited without reporting progress=end";
    else what = "ffmpeg " + status.describe();
    if (!stderr_tail.empty()) what += ": " + join(stderr_tail);
    return what;
}

asio::awaitable<ffmpeg_run> run_ffmpeg(ffmpeg_options options) {
    process::spawn_options spawn;
    spawn.argv = std::move(options.argv);
    spawn.cwd = options.cwd;
    spawn.nice = options.nice;
    process::child c(co_await asio::this_coro::executor, std::move(spawn));
    ffmpeg_state st;
    st.on_progress = &options.on_progress;
    ffmpeg_run r;
    auto run = supervise(c, st, options.stall_timeout);
    auto owned = process::run_owned(c, std::move(run), options.kill_grace, &r.status);
    r.stalled = co_await std::move(owned);
    r.ended = st.parser.ended();
    r.last = st.last;
    r.stderr_tail = c.stderr_tail();
    co_return r;
}

}  // namespace wharf::media
