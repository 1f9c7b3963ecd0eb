// The producer examples of the README, run as a producer would run them: each enqueues with its
// own Redis client, a real wharf-worker runs the jobs, and PostgreSQL shows them succeeded.
#include "fleet.hpp"

#include <gtest/gtest.h>

#include <filesystem>

using namespace std::chrono_literals;
namespace fs = std::filesystem;

namespace {

fs::path examples() { return wharf::test::source_dir() / "tests/integration/producers"; }

bool succeeded(wharf::test::fleet& f, const std::string& id) {
    auto row = f.job(id);
    return row && row->status == "succeeded";
}

void expect_runs(const std::vector<std::string>& argv, const wharf::test::process_options& options = {}) {
    auto r = wharf::test::run(argv, options);
    ASSERT_EQ(r.status, 0) << argv[0] << " " << (argv.size() > 1 ? argv[1] : "") << " failed:\n" << r.output;
}

}  // namespace

TEST(producers, redis_cli_example_enqueues_a_job_that_runs_once) {
    wharf::test::fleet f;
    f.start_worker({"--queues", "noop=4"});
    const auto port = std::to_string(f.redis().port());
    expect_runs({"bash", (examples() / "enqueue.sh").string(), port, "noop", "from-redis-cli"});
    ASSERT_TRUE(wharf::test::fleet::eventually([&] { return succeeded(f, "from-redis-cli"); }, 20s));

    // The same id again: acknowledged as a duplicate, not run a second time.
    expect_runs({"bash", (examples() / "enqueue.sh").string(), port, "noop", "from-redis-cli"});
    ASSERT_TRUE(wharf::test::fleet::eventually([&] { return f.stat("noop", "duplicates") == 1; }, 20s));
    auto row = f.job("from-redis-cli");
    ASSERT_TRUE(row);
    EXPECT_EQ(row->attempts, 1);
    EXPECT_EQ(row->epoch, 1);
    EXPECT_EQ(f.stream_length("noop"), 0);
}

TEST(producers, python_example_enqueues_a_job_and_a_delayed_job) {
    if (wharf::test::run({"/usr/bin/python3", "-c", "import redis"}).status != 0)
        FAIL() << "python3-redis is missing: run deploy/install-deps.sh";
    wharf::test::fleet f;
    f.start_worker({"--queues", "noop=4"});
    expect_runs({"/usr/bin/python3", (examples() / "enqueue.py").string(), f.redis().url(), "noop", "from-python"});
    ASSERT_TRUE(wharf::test::fleet::eventually([&] { return succeeded(f, "from-python"); }, 20s));
    ASSERT_TRUE(wharf::test::fleet::eventually([&] { return succeeded(f, "from-python-delayed"); }, 20s));
}

TEST(producers, node_example_enqueues_a_job_that_runs) {
    const auto modules = wharf::test::source_dir() / "tests/servers/node_modules";
    ASSERT_TRUE(fs::exists(modules / "ioredis")) << "ioredis is missing: run deploy/install-deps.sh";
    wharf::test::fleet f;
    f.start_worker({"--queues", "noop=4"});
    wharf::test::process_options options;
    options.env["NODE_PATH"] = modules.string();
    expect_runs({"node", (examples() / "enqueue.js").string(), f.redis().url(), "noop", "from-node"}, options);
    ASSERT_TRUE(wharf::test::fleet::eventually([&] { return succeeded(f, "from-node"); }, 20s));
}
