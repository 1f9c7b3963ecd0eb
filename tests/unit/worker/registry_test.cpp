// The job type registry and the diagnostic job types' payload checks.
#include "wharf/worker/registry.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <gtest/gtest.h>

namespace asio = boost::asio;
using wharf::worker::job_context;
using wharf::worker::job_registry;
using wharf::worker::permanent_error;

namespace {

nlohmann::json run(const job_registry& r, const std::string& type, nlohmann::json payload, int attempt = 1) {
    asio::io_context io;
    job_context ctx;
    ctx.queue = type;
    ctx.attempt = attempt;
    ctx.payload = std::move(payload);
    ctx.executor = io.get_executor();
    auto f = asio::co_spawn(io, r.find(type)->handler(ctx), asio::use_future);
    io.run();
    return f.get();
}

}  // namespace

TEST(registry, refuses_duplicates_and_bad_names) {
    job_registry r;
    wharf::worker::add_diagnostic_jobs(r);
    EXPECT_NE(r.find("noop"), nullptr);
    EXPECT_NE(r.find("sleep"), nullptr);
    EXPECT_NE(r.find("fail"), nullptr);
    EXPECT_EQ(r.find("upload"), nullptr);
    EXPECT_THROW(wharf::worker::add_diagnostic_jobs(r), std::invalid_argument);
    EXPECT_THROW(r.add({.name = "Bad{name}", .handler = r.find("noop")->handler}), std::invalid_argument);
    EXPECT_THROW(r.add({.name = "nohandler"}), std::invalid_argument);
}

TEST(registry, diagnostic_jobs_do_what_they_say) {
    job_registry r;
    wharf::worker::add_diagnostic_jobs(r);
    EXPECT_EQ(run(r, "noop", nlohmann::json::object()), nlohmann::json::object());
    EXPECT_EQ(run(r, "sleep", {{"ms", 5}}), (nlohmann::json{{"slept_ms", 5}}));
    EXPECT_THROW(run(r, "sleep", {{"ms", "soon"}}), permanent_error);
    EXPECT_THROW(run(r, "fail", {{"fail_attempts", 2}}, 2), std::runtime_error);
    EXPECT_EQ(run(r, "fail", {{"fail_attempts", 2}}, 3), (nlohmann::json{{"attempt", 3}}));
    EXPECT_THROW(run(r, "fail", {{"permanent", true}}), permanent_error);
}
