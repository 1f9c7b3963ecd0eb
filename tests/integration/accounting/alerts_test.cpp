// "Provider full" email alerts through a real SMTP server (aiosmtpd): one per crossing, again
// after usage drops below the limit, one for many concurrent writers, retried after a failed
// send without duplicates, and STARTTLS when required.
#include "accounting_env.hpp"

#include "wharf/pg/pool.hpp"
#include "wharf/storage/alerts.hpp"

#include <boost/asio/io_context.hpp>
#include <gtest/gtest.h>
#include <pqxx/pqxx>

#include <thread>

namespace asio = boost::asio;
namespace s = wharf::storage;
using wharf::test::migrated_database;
using wharf::test::run_coro;
using wharf::test::smtp_sink;

namespace {

s::object_record object(std::string key, std::uint64_t size, int content) {
    s::object_record r;
    r.provider = "alpha";
    r.bucket = "b";
    r.key = std::move(key);
    r.size = size;
    std::string hex = std::to_string(content);
    r.sha256 = std::string(64 - hex.size(), 'c') + hex;
    return r;
}

s::smtp_settings settings_for(const smtp_sink& sink) {
    s::smtp_settings st;
    st.url = sink.url();
    st.from = "wharf@example.org";
    st.to = {"ops@example.org"};
    st.timeout = std::chrono::seconds(10);
    return st;
}

s::dispatcher_options fast_retry() {
    s::dispatcher_options o;
    o.retry = wharf::backoff_policy{std::chrono::milliseconds(1), std::chrono::milliseconds(1), 0};
    return o;
}

s::provider_stats stats(pqxx::connection& c) {
    for (auto& st : s::load_stats(c))
        if (st.provider == "alpha") return st;
    throw std::runtime_error("no stats");
}

}  // namespace

TEST(alerts, one_email_per_crossing_and_another_after_dropping_below) {
    smtp_sink sink;
    const auto url = migrated_database();
    asio::io_context ctx;
    wharf::pg::pool db(ctx.get_executor(), url);
    s::catalog cat(db);
    s::alert_dispatcher alerts(cat, settings_for(sink));
    pqxx::connection c(url);
    s::ensure_provider(c, "alpha", 1000);

    auto record = [&](s::object_record r) {
        auto result = run_coro(ctx, cat.record(std::move(r)));
        if (result.crossing) {
            EXPECT_TRUE(run_coro(ctx, alerts.dispatch(*result.crossing)));
        }
        return result;
    };
    record(object("a", 600, 1));
    EXPECT_EQ(sink.count(), 0u);
    EXPECT_TRUE(record(object("b", 500, 2)).crossing);
    ASSERT_EQ(sink.wait_for(1), 1u);
    EXPECT_TRUE(stats(c).alert_sent);
    record(object("c", 100, 3));  // still full: no second email
    EXPECT_EQ(run_coro(ctx, alerts.sweep()), 0u);
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    EXPECT_EQ(sink.count(), 1u);

    const auto message = sink.messages().at(0);
    EXPECT_NE(message.find("Subject: [wharf] storage provider \"alpha\" is full"), std::string::npos);
    EXPECT_NE(message.find("multipart/alternative"), std::string::npos);
    EXPECT_NE(message.find("text/plain"), std::string::npos);
    EXPECT_NE(message.find("text/html"), std::string::npos);
    EXPECT_NE(message.find("1100 bytes"), std::string::npos);  // usage
    EXPECT_NE(message.find("1000 bytes"), std::string::npos);  // limit

    // Below the limit again: both flags reset ...
    run_coro(ctx, cat.remove("alpha", "b", "b"));
    run_coro(ctx, cat.remove("alpha", "b", "c"));
    EXPECT_FALSE(stats(c).is_full);
    EXPECT_FALSE(stats(c).alert_sent);
    // ... so the next crossing alerts again.
    EXPECT_TRUE(record(object("d", 400, 4)).crossing);
    EXPECT_EQ(sink.wait_for(2), 2u);
    EXPECT_TRUE(stats(c).alert_sent);
    db.shutdown();
}

TEST(alerts, concurrent_workers_crossing_the_limit_send_one_email) {
    smtp_sink sink;
    const auto url = migrated_database();
    {
        pqxx::connection c(url);
        s::ensure_provider(c, "alpha", 500);
    }
    // Four "workers", each with its own io_context, pool and dispatcher, record at once.
    std::vector<std::thread> workers;
    std::atomic<int> sent{0};
    for (int w = 0; w < 4; ++w) {
        workers.emplace_back([&, w] {
            asio::io_context ctx;
            wharf::pg::pool db(ctx.get_executor(), url);
            s::catalog cat(db);
            s::alert_dispatcher alerts(cat, settings_for(sink));
            for (int i = 0; i < 20; ++i) {
                auto r = run_coro(ctx, cat.record(object("w" + std::to_string(w) + "/" + std::to_string(i), 10, w * 100 + i)));
                if (r.crossing && run_coro(ctx, alerts.dispatch(*r.crossing))) ++sent;
                if (i % 5 == 0) sent += static_cast<int>(run_coro(ctx, alerts.sweep()));  // sweepers race too
            }
            db.shutdown();
        });
    }
    for (auto& t : workers) t.join();
    EXPECT_EQ(sent.load(), 1);
    EXPECT_EQ(sink.wait_for(1), 1u);
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    EXPECT_EQ(sink.count(), 1u);
    pqxx::connection c(url);
    EXPECT_EQ(stats(c).total_bytes, 800u);
    EXPECT_TRUE(stats(c).alert_sent);
}

TEST(alerts, a_failed_send_stays_unsent_and_is_retried_once_the_server_is_back) {
    smtp_sink sink;
    const auto url = migrated_database();
    asio::io_context ctx;
    wharf::pg::pool db(ctx.get_executor(), url);
    s::catalog cat(db);
    auto settings = settings_for(sink);
    settings.connect_timeout = std::chrono::seconds(2);
    s::alert_dispatcher alerts(cat, settings, fast_retry());
    pqxx::connection c(url);
    s::ensure_provider(c, "alpha", 100);

    sink.stop();
    const auto r = run_coro(ctx, cat.record(object("a", 100, 1)));
    ASSERT_TRUE(r.crossing);
    EXPECT_FALSE(run_coro(ctx, alerts.dispatch(*r.crossing)));  // refused connection
    EXPECT_FALSE(stats(c).alert_sent);
    EXPECT_TRUE(stats(c).is_full);
    EXPECT_EQ(run_coro(ctx, alerts.sweep()), 0u);  // still down: failed again, still unsent
    EXPECT_FALSE(stats(c).alert_sent);

    sink.start();
    std::this_thread::sleep_for(std::chrono::milliseconds(20));  // past the (1 ms) backoff
    EXPECT_EQ(run_coro(ctx, alerts.sweep()), 1u);
    EXPECT_TRUE(stats(c).alert_sent);
    EXPECT_EQ(run_coro(ctx, alerts.sweep()), 0u);
    EXPECT_EQ(sink.wait_for(1), 1u);
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    EXPECT_EQ(sink.count(), 1u);
    db.shutdown();
}

TEST(alerts, a_claim_held_by_a_live_sender_is_not_taken_by_a_sweep) {
    smtp_sink sink;
    const auto url = migrated_database();
    asio::io_context ctx;
    wharf::pg::pool db(ctx.get_executor(), url);
    s::catalog cat(db);
    s::alert_dispatcher alerts(cat, settings_for(sink));
    pqxx::connection c(url);
    s::ensure_provider(c, "alpha", 100);
    // The recorder claimed the alert in its transaction and has not sent it yet (or died): a
    // sweep must leave it alone until the claim expires.
    const auto r = run_coro(ctx, cat.record(object("a", 100, 1)));
    ASSERT_TRUE(r.crossing);
    EXPECT_EQ(run_coro(ctx, alerts.sweep()), 0u);
    // The sender died: its claim expires, and a sweep sends the alert once.
    {
        pqxx::work tx(c);
        tx.exec0("UPDATE storage_stats SET alert_claimed_until = now() - interval '1 second' WHERE provider = 'alpha'");
        tx.commit();
    }
    EXPECT_EQ(run_coro(ctx, alerts.sweep()), 1u);
    EXPECT_EQ(sink.wait_for(1), 1u);
    EXPECT_TRUE(stats(c).alert_sent);
    EXPECT_EQ(run_coro(ctx, alerts.sweep()), 0u);
    db.shutdown();
}

TEST(alerts, starttls_is_used_when_offered_and_can_be_required) {
    smtp_sink tls_sink(wharf::test::smtp_sink_options{.starttls = true});
    auto settings = settings_for(tls_sink);
    settings.ca_file = tls_sink.ca_file().string();
    settings.tls = s::smtp_tls::require;
    s::smtp_mailer(settings).send(s::email{"tls", "plain", "<p>html</p>"});
    EXPECT_EQ(tls_sink.wait_for(1), 1u);

    // The same server with an untrusted certificate: refused, not sent in the clear.
    settings.ca_file.reset();
    settings.connect_timeout = std::chrono::seconds(3);
    EXPECT_THROW(s::smtp_mailer(settings).send(s::email{"tls", "plain", "<p>html</p>"}), s::alert_error);

    // A server without STARTTLS: "require" refuses, the default "try" delivers in the clear.
    smtp_sink plain_sink;
    auto plain = settings_for(plain_sink);
    plain.tls = s::smtp_tls::require;
    EXPECT_THROW(s::smtp_mailer(plain).send(s::email{"x", "y", "z"}), s::alert_error);
    plain.tls = s::smtp_tls::try_tls;
    s::smtp_mailer(plain).send(s::email{"x", "y", "z"});
    EXPECT_EQ(plain_sink.wait_for(1), 1u);
    EXPECT_EQ(tls_sink.count(), 1u);
}
