// The presigned-URL cache, driven by an injected clock: the same URL until one minute before it
// expires, then a fresh one; expiry validation.
#include "wharf/storage/presign_cache.hpp"

#include <gtest/gtest.h>

namespace s = wharf::storage;
using namespace std::chrono_literals;

namespace {

struct fake_clock {
    std::chrono::system_clock::time_point now{std::chrono::sys_days{std::chrono::year{2026} / 11 / 21}};
};

struct counting_signer {
    int calls = 0;
    std::string operator()(std::chrono::seconds expires) {
        return "https://example/obj?n=" + std::to_string(++calls) + "&e=" + std::to_string(expires.count());
    }
};

}  // namespace

TEST(presign_cache, returns_the_cached_url_until_one_minute_before_expiry) {
    fake_clock clock;
    s::presign_cache cache([&] { return clock.now; });
    counting_signer signer;
    auto sign = [&](std::chrono::seconds e) { return signer(e); };

    const auto first = cache.get("p", s::http_method::get, "videos/a/b.mp4", 3600s, sign);
    EXPECT_EQ(signer.calls, 1);
    clock.now += 3600s - 61s;  // 61 s left: still handed out
    EXPECT_EQ(cache.get("p", s::http_method::get, "videos/a/b.mp4", 3600s, sign), first);
    EXPECT_EQ(signer.calls, 1);
    clock.now += 1s;  // exactly 60 s left: refreshed
    const auto second = cache.get("p", s::http_method::get, "videos/a/b.mp4", 3600s, sign);
    EXPECT_NE(second, first);
    EXPECT_EQ(signer.calls, 2);
    // The new URL lives a full hour from now.
    clock.now += 3600s - 61s;
    EXPECT_EQ(cache.get("p", s::http_method::get, "videos/a/b.mp4", 3600s, sign), second);
    EXPECT_EQ(signer.calls, 2);
}

TEST(presign_cache, keys_by_provider_method_key_and_expiry) {
    fake_clock clock;
    s::presign_cache cache([&] { return clock.now; });
    counting_signer signer;
    auto sign = [&](std::chrono::seconds e) { return signer(e); };
    cache.get("p", s::http_method::get, "k", 3600s, sign);
    cache.get("p", s::http_method::put, "k", 3600s, sign);
    cache.get("q", s::http_method::get, "k", 3600s, sign);
    cache.get("p", s::http_method::get, "k2", 3600s, sign);
    cache.get("p", s::http_method::get, "k", 7200s, sign);  // a longer life is not served by a shorter URL
    EXPECT_EQ(signer.calls, 5);
    cache.get("p", s::http_method::get, "k", 3600s, sign);
    EXPECT_EQ(signer.calls, 5);
}

TEST(presign_cache, a_url_shorter_than_the_margin_is_never_cached) {
    fake_clock clock;
    s::presign_cache cache([&] { return clock.now; });
    counting_signer signer;
    auto sign = [&](std::chrono::seconds e) { return signer(e); };
    cache.get("p", s::http_method::get, "k", 30s, sign);
    cache.get("p", s::http_method::get, "k", 30s, sign);
    EXPECT_EQ(signer.calls, 2);
}

TEST(presign_cache, stays_bounded) {
    fake_clock clock;
    s::presign_cache cache([&] { return clock.now; }, 3);
    counting_signer signer;
    auto sign = [&](std::chrono::seconds e) { return signer(e); };
    for (int i = 0; i < 10; ++i) cache.get("p", s::http_method::get, "k" + std::to_string(i), 3600s, sign);
    EXPECT_LE(cache.size(), 3u);
}

TEST(presign_cache, expiry_defaults_to_one_hour_and_refuses_beyond_seven_days) {
    EXPECT_EQ(s::checked_presign_expiry(std::nullopt).value(), 3600s);
    EXPECT_EQ(s::checked_presign_expiry(604800).value(), 604800s);
    EXPECT_EQ(s::checked_presign_expiry(1).value(), 1s);
    const auto too_long = s::checked_presign_expiry(604801);
    ASSERT_TRUE(too_long.has_error());
    EXPECT_EQ(too_long.error().message,
              "presign expiry must be between 1 and 604800 seconds (7 days), got 604801");
    EXPECT_TRUE(s::checked_presign_expiry(0).has_error());
    EXPECT_TRUE(s::checked_presign_expiry(-5).has_error());
}
