// `wharfctl status --watch` and `wharfctl queues --watch`: redrawn in place with bars on a
// terminal (a tmux pane, read with capture-pane), plain lines on a pipe, NO_COLOR honoured, and
// the exit code telling the outcome.
#include "fleet.hpp"

#include "wharf/test/process.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <fstream>
#include <sstream>
#include <thread>

using namespace std::chrono_literals;
using json = nlohmann::json;
using wharf::test::fleet;

namespace {

std::string read_file(const std::filesystem::path& p) {
    std::ifstream in(p);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
}

// A detached tmux server of its own (its own socket), one window running `command`.
class tmux_session {
public:
    tmux_session(const std::filesystem::path& dir, const std::string& command) : socket_((dir / "tmux.sock").string()) {
        const auto r = wharf::test::run({"tmux", "-S", socket_, "new-session", "-d", "-x", "160", "-y", "40", "-s", "w",
                                         "/bin/sh", "-c", command + "; echo \"exit=$?\"; sleep 600"});
        if (r.status != 0) throw std::runtime_error("tmux: " + r.output);
    }
    ~tmux_session() { wharf::test::run({"tmux", "-S", socket_, "kill-server"}); }
    // The pane's text, escape sequences interpreted (-e keeps the colors' SGR codes).
    std::string capture(bool with_escapes = false) const {
        std::vector<std::string> argv{"tmux", "-S", socket_, "capture-pane", "-p", "-t", "w"};
        if (with_escapes) argv.push_back("-e");
        return wharf::test::run(argv).output;
    }

private:
    std::string socket_;
};

std::string env_prefix(fleet& f) {
    return "WHARF_REDIS_URL='" + f.redis().url() + "' WHARF_DATABASE_URL='" + f.postgres().url() + "' ";
}

std::string ctl_path() { return (wharf::test::binary_dir() / "wharfctl" / "wharfctl").string(); }

}  // namespace

TEST(wharfctl_watch, status_watch_redraws_a_bar_in_place_on_a_terminal_and_exits_with_the_outcome) {
    fleet f;
    wharf::test::logs_on_failure logs{f};
    wharf::test::temp_dir dir;
    f.start_worker({"--queues", "sleep=2"});
    f.enqueue("sleep", {{"id", "slow-1"}, {"payload", {{"ms", 4000}, {"progress_every_ms", 200}}}});
    ASSERT_TRUE(fleet::eventually([&] { return wharf::test::status_of(f, "slow-1") == "running"; }, 20s));

    tmux_session tmux(dir.path(), env_prefix(f) + ctl_path() + " status slow-1 --watch");
    // Mid-run: one frame, a bar and a percentage, redrawn in place (never two frames on screen).
    ASSERT_TRUE(fleet::eventually([&] { return tmux.capture().find("%") != std::string::npos; }, 10s))
        << tmux.capture();
    std::this_thread::sleep_for(1200ms);
    auto screen = tmux.capture();
    EXPECT_NE(screen.find("slow-1 (sleep)  running"), std::string::npos) << screen;
    EXPECT_NE(screen.find("[#"), std::string::npos) << screen;  // the bar
    EXPECT_EQ(screen.find("slow-1 (sleep)"), screen.rfind("slow-1 (sleep)")) << screen;
    EXPECT_NE(tmux.capture(true).find("\x1b[36m"), std::string::npos);  // running, in color

    ASSERT_TRUE(fleet::eventually([&] { return tmux.capture().find("exit=") != std::string::npos; }, 20s))
        << tmux.capture();
    screen = tmux.capture();
    EXPECT_NE(screen.find("slow-1 (sleep)  succeeded"), std::string::npos) << screen;
    EXPECT_NE(screen.find("exit=0"), std::string::npos) << screen;
    EXPECT_EQ(screen.find("slow-1 (sleep)"), screen.rfind("slow-1 (sleep)")) << screen;
}

TEST(wharfctl_watch, status_watch_prints_plain_lines_on_a_pipe_honours_no_color_and_exits_4_when_cancelled) {
    fleet f;
    wharf::test::logs_on_failure logs{f};
    wharf::test::temp_dir dir;
    f.start_worker({"--queues", "sleep=2"});
    f.enqueue("sleep", {{"id", "slow-2"}, {"payload", {{"ms", 60'000}, {"progress_every_ms", 200}}}});
    ASSERT_TRUE(fleet::eventually([&] { return wharf::test::status_of(f, "slow-2") == "running"; }, 20s));

    // On a terminal with NO_COLOR: bars, no color codes.
    {
        tmux_session tmux(dir.path(), "NO_COLOR=1 " + env_prefix(f) + ctl_path() + " status slow-2 --watch");
        ASSERT_TRUE(fleet::eventually([&] { return tmux.capture().find("[#") != std::string::npos; }, 10s))
            << tmux.capture();
        EXPECT_EQ(tmux.capture(true).find("\x1b[3"), std::string::npos) << tmux.capture(true);
    }
    // On a pipe: plain lines, no bar, no escape sequences.
    wharf::test::process_options opts;
    opts.output = dir.path() / "watch.out";
    opts.env = {{"WHARF_REDIS_URL", f.redis().url()}, {"WHARF_DATABASE_URL", f.postgres().url()}};
    wharf::test::process watcher({ctl_path(), "status", "slow-2", "--watch"}, opts);
    std::this_thread::sleep_for(1500ms);
    ASSERT_EQ(f.ctl({"cancel", "slow-2"}).status, 0);
    const auto status = watcher.wait(30s);
    ASSERT_TRUE(status.has_value());
    EXPECT_EQ(*status, 4);  // cancelled
    const auto out = read_file(dir.path() / "watch.out");
    EXPECT_NE(out.find("slow-2 (sleep)  running  attempt 1/5  sleep  "), std::string::npos) << out;
    EXPECT_NE(out.find("slow-2 (sleep)  cancelled"), std::string::npos) << out;
    EXPECT_EQ(out.find('\x1b'), std::string::npos) << out;
    EXPECT_EQ(out.find("[#"), std::string::npos) << out;
}

TEST(wharfctl_watch, queues_watch_redraws_the_table_as_the_backlog_changes) {
    fleet f;
    wharf::test::logs_on_failure logs{f};
    wharf::test::temp_dir dir;
    f.start_worker({"--queues", "sleep=1"});  // registers the queue; one job at a time
    ASSERT_TRUE(fleet::eventually([&] { return f.ctl({"queues"}).output.find("sleep") != std::string::npos; }, 20s));
    f.enqueue_many("sleep", 6, [](std::size_t) { return json{{"payload", {{"ms", 1000}}}}; });
    tmux_session tmux(dir.path(), env_prefix(f) + ctl_path() + " queues --watch --interval 200ms");
    const auto depth_of_sleep = [&]() -> int {
        const auto screen = tmux.capture();
        const auto at = screen.find("sleep ");
        if (at == std::string::npos) return -1;
        std::istringstream row(screen.substr(at, screen.find('\n', at) - at));
        std::string name;
        int depth = -1;
        row >> name >> depth;
        return depth;
    };
    ASSERT_TRUE(fleet::eventually([&] { return depth_of_sleep() >= 3; }, 10s)) << tmux.capture();
    ASSERT_TRUE(fleet::eventually([&] { return depth_of_sleep() == 0; }, 30s)) << tmux.capture();
    const auto screen = tmux.capture();
    EXPECT_EQ(screen.find("QUEUE"), screen.rfind("QUEUE")) << screen;  // redrawn, not appended
}
