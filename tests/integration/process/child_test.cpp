// The child-process owner with real processes: what it starts, what it keeps of stderr, and that
// nothing it started outlives it -- on success, on SIGTERM-deaf children, on cancellation, and
// when the thread that started it ends.
#include "wharf/process/child.hpp"
#include "wharf/test/process.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/use_future.hpp>
#include <gtest/gtest.h>

#include <csignal>
#include <fstream>
#include <sstream>
#include <thread>

namespace asio = boost::asio;
using namespace std::chrono_literals;
using wharf::process::child;
using wharf::process::exit_status;
using wharf::process::spawn_options;

namespace {

template <class T>
T run(asio::io_context& io, asio::awaitable<T> a) {
    auto f = asio::co_spawn(io, std::move(a), asio::use_future);
    io.restart();
    while (f.wait_for(0s) != std::future_status::ready) io.run_one_for(20ms);
    return f.get();
}

bool alive(pid_t pid) { return ::kill(pid, 0) == 0; }

// Fields of /proc/<pid>/stat after the command name.
std::vector<std::string> stat_of(pid_t pid) {
    const std::string all = wharf::test::read_proc_file("/proc/" + std::to_string(pid) + "/stat");
    const auto paren = all.rfind(')');
    if (paren == std::string::npos || paren + 2 > all.size()) return {};  // gone meanwhile
    std::istringstream rest(all.substr(paren + 2));
    std::vector<std::string> fields;
    for (std::string f; rest >> f;) fields.push_back(f);
    return fields;
}

// pids of the processes in group `pgid` (none once it is gone).
std::vector<pid_t> group_members(pid_t pgid) {
    std::vector<pid_t> out;
    for (const auto& e : std::filesystem::directory_iterator("/proc")) {
        const auto name = e.path().filename().string();
        if (name.find_first_not_of("0123456789") != std::string::npos) continue;
        const auto f = stat_of(std::stoi(name));
        // state, ppid, pgrp: a zombie still counts (it is not reaped yet).
        if (f.size() > 2 && std::stoi(f[2]) == pgid) out.push_back(std::stoi(name));
    }
    return out;
}

// Group members outlive their leader by a moment (init reaps them); wait for that.
bool eventually_empty(pid_t pgid) {
    for (int i = 0; i < 250; ++i) {
        if (group_members(pgid).empty()) return true;
        std::this_thread::sleep_for(20ms);
    }
    return false;
}

spawn_options sh(const std::string& script) {
    spawn_options o;
    o.argv = {"sh", "-c", script};
    return o;
}

asio::awaitable<std::string> read_stdout(child& c) {
    std::string out;
    std::array<char, 256> buf;
    for (;;) {
        auto [ec, n] = co_await c.stdout_pipe().async_read_some(asio::buffer(buf), asio::as_tuple(asio::use_awaitable));
        out.append(buf.data(), n);
        if (ec) break;
    }
    co_await c.read_stderr();
    co_await c.wait_exit();
    co_return out;
}

}  // namespace

TEST(child, runs_in_its_own_group_niced_with_stdout_and_the_end_of_stderr) {
    asio::io_context io;
    auto o = sh("echo out; for i in 1 2 3 4 5; do echo err$i >&2; done; sleep 0.2; exit 3");
    o.nice = 7;
    o.stderr_lines = 2;
    child c(io.get_executor(), o);
    const auto f = stat_of(c.pid());
    ASSERT_GT(f.size(), 17u);
    EXPECT_EQ(std::stoi(f[2]), c.pid());  // process group = its own pid
    EXPECT_EQ(std::stoi(f[16]), 7);       // nice
    exit_status st;
    auto work = read_stdout(c);
    const auto out = run(io, wharf::process::run_owned(c, std::move(work), 10s, &st));
    EXPECT_EQ(out, "out\n");
    EXPECT_EQ(st.code, 3);
    EXPECT_EQ(st.describe(), "exit code 3");
    EXPECT_FALSE(c.signalled_by_owner());
    EXPECT_EQ(c.stderr_tail(), (std::vector<std::string>{"err4", "err5"}));
}

TEST(child, a_program_that_is_not_there_is_an_error_not_a_child) {
    asio::io_context io;
    spawn_options o;
    o.argv = {"wharf-no-such-program"};
    try {
        child c(io.get_executor(), o);
        FAIL() << "started";
    } catch (const std::system_error& e) {
        EXPECT_EQ(e.code(), std::errc::no_such_file_or_directory);
    }
    o.argv = {"/etc/hostname"};
    EXPECT_THROW(child(io.get_executor(), o), std::system_error);
    o = sh("true");
    o.cwd = "/no/such/dir";
    try {
        child c(io.get_executor(), o);
        FAIL() << "started";
    } catch (const std::system_error& e) {
        EXPECT_EQ(e.code(), std::errc::no_such_file_or_directory);
    }
}

TEST(child, stop_kills_a_child_deaf_to_sigterm_and_its_whole_group) {
    asio::io_context io;
    // The shell ignores SIGTERM, and so does the background sleep it leaves in its group.
    child c(io.get_executor(), sh("trap '' TERM; sleep 100 & echo started; wait"));
    const pid_t pgid = c.pid();
    std::array<char, 16> buf;
    run(io, [&]() -> asio::awaitable<std::size_t> {
        co_return co_await c.stdout_pipe().async_read_some(asio::buffer(buf), asio::use_awaitable);
    }());
    EXPECT_EQ(group_members(pgid).size(), 2u);
    const auto st = run(io, c.stop(300ms));
    EXPECT_EQ(st.signal, SIGKILL);
    EXPECT_EQ(st.describe(), "killed by SIGKILL");
    EXPECT_TRUE(c.signalled_by_owner());
    EXPECT_TRUE(eventually_empty(pgid));
}

TEST(child, a_stopped_child_is_continued_so_it_can_act_on_sigterm) {
    asio::io_context io;
    child c(io.get_executor(), sh("exec sleep 100"));
    ::kill(c.pid(), SIGSTOP);
    const auto st = run(io, c.stop(30s));
    EXPECT_EQ(st.signal, SIGTERM);  // not SIGKILL: it did not need the grace period
    EXPECT_TRUE(group_members(c.pid()).empty());
}

TEST(child, cancellation_stops_the_child_before_the_coroutine_ends) {
    asio::io_context io;
    auto c = std::make_unique<child>(io.get_executor(), sh("exec sleep 100"));
    const pid_t pid = c->pid();
    asio::cancellation_signal cancel;
    exit_status st;
    // Named: the coroutine runs after this statement, and reads the closure.
    const auto waiting = [&c]() -> asio::awaitable<int> {
        co_await c->wait_exit();
        co_return 0;
    };
    auto f = asio::co_spawn(io, wharf::process::run_owned(*c, waiting(), 10s, &st),
                            asio::bind_cancellation_slot(cancel.slot(), asio::use_future));
    io.run_for(100ms);
    ASSERT_TRUE(alive(pid));
    cancel.emit(asio::cancellation_type::terminal);
    while (f.wait_for(0s) != std::future_status::ready) io.run_one_for(20ms);
    try {
        f.get();
        FAIL() << "not cancelled";
    } catch (const boost::system::system_error& e) {
        EXPECT_EQ(e.code(), asio::error::operation_aborted);
    }
    // Reaped before the coroutine ended: the pid is gone, not a zombie.
    EXPECT_FALSE(alive(pid));
    EXPECT_EQ(st.signal, SIGTERM);
    EXPECT_TRUE(c->signalled_by_owner());
}

TEST(child, the_destructor_kills_what_nobody_stopped) {
    asio::io_context io;
    pid_t pid;
    {
        child c(io.get_executor(), sh("exec sleep 100"));
        pid = c.pid();
        ASSERT_TRUE(alive(pid));
    }
    EXPECT_FALSE(alive(pid));
}

TEST(child, dies_with_the_thread_that_started_it) {
    // PR_SET_PDEATHSIG: the kernel kills the child when the thread that forked it ends -- the
    // same mechanism that takes ffmpeg down with a kill -9'd worker.
    asio::io_context io;
    std::unique_ptr<child> c;
    std::thread starter([&] { c = std::make_unique<child>(io.get_executor(), sh("exec sleep 100")); });
    starter.join();
    const pid_t pid = c->pid();
    const auto st = run(io, [&]() -> asio::awaitable<exit_status> {
        co_await c->wait_exit();
        co_return co_await c->stop(10s);
    }());
    EXPECT_EQ(st.signal, SIGKILL);
    EXPECT_FALSE(c->signalled_by_owner());
    EXPECT_FALSE(alive(pid));
}
