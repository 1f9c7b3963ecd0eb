// The download payload and settings, checked before any I/O: what is refused (permanently, with a
// reason that never quotes the URL), and what the defaults become.
#include "jobs/download.hpp"

#include <gtest/gtest.h>

using nlohmann::json;
using wharf::worker::download_settings;
using wharf::worker::parse_download_request;
using wharf::worker::permanent_error;

namespace {

std::string refusal(const json& payload, const download_settings& s = {}, std::optional<std::string> api_key = {}) {
    try {
        parse_download_request(payload, api_key, s);
    } catch (const permanent_error& e) {
        return e.what();
    }
    return "";
}

download_settings from(std::map<std::string, std::string> env) {
    const auto specs = wharf::worker::download_option_specs();
    return wharf::worker::download_settings_from(wharf::config::load(std::vector<std::string>{}, env, specs));
}

}  // namespace

TEST(download_request, the_key_comes_from_the_payload_or_the_video_id_and_the_url) {
    const auto r = parse_download_request({{"url", "https://u:p@cdn.example/a/My%20Clip.mp4?sig=x"}, {"video_id", "v-1"}},
                                          std::nullopt, {});
    EXPECT_EQ(r.key, "videos/v-1/My_Clip.mp4");
    EXPECT_EQ(r.url.redacted, "https://cdn.example/a/My%20Clip.mp4");
    EXPECT_EQ(r.max_bytes, std::uint64_t{10} << 30);
    EXPECT_EQ(parse_download_request({{"url", "https://h/x.mp4"}, {"key", "temp/pipe-1/source.mp4"}, {"video_id", "v"}},
                                     std::nullopt, {})
                  .key,
              "temp/pipe-1/source.mp4");
    EXPECT_EQ(parse_download_request({{"url", "https://h/"}, {"video_id", "v"}}, std::nullopt, {}).key, "videos/v/download");
}

TEST(download_request, bad_payloads_are_refused_without_quoting_the_url) {
    EXPECT_NE(refusal({{"url", "https://h/x"}}), "");  // neither key nor video_id
    EXPECT_NE(refusal({{"video_id", "v"}}), "");
    EXPECT_NE(refusal({{"url", 5}, {"video_id", "v"}}), "");
    EXPECT_NE(refusal({{"url", "https://h/x"}, {"video_id", "../etc"}}), "");
    EXPECT_NE(refusal({{"url", "https://h/x"}, {"video_id", "a/b"}}), "");
    EXPECT_NE(refusal({{"url", "https://h/x"}, {"key", "videos/only-two"}}), "");
    EXPECT_NE(refusal({{"url", "https://h/x"}, {"key", "videos/v/../x"}}), "");
    EXPECT_NE(refusal({{"url", "https://h/x"}, {"video_id", "v"}, {"sha256", "abc"}}), "");
    EXPECT_NE(refusal({{"url", "https://h/x"}, {"video_id", "v"}, {"size", -1}}), "");
    EXPECT_NE(refusal({{"url", "https://h/x"}, {"video_id", "v"}, {"max_bytes", 0}}), "");
    EXPECT_NE(refusal({{"url", "https://h/x"}, {"video_id", "v"}, {"content_types", "video/*"}}), "");
    EXPECT_NE(refusal({{"url", "https://h/x"}, {"video_id", "v"}, {"content_types", {"video"}}}), "");
    EXPECT_NE(refusal({{"url", "https://h/x"}, {"video_id", "v"}, {"api_key", "a"}}, {}, "b"), "");
    EXPECT_NE(refusal({{"url", "https://h/x"}, {"video_id", "v"}, {"presign_expires", 0}}), "");
    const auto why = refusal({{"url", "ftp://alice:hunter2@h/x?sig=topsecret"}, {"video_id", "v"}});
    EXPECT_NE(why, "");
    EXPECT_EQ(why.find("hunter2"), std::string::npos) << why;
    EXPECT_EQ(why.find("topsecret"), std::string::npos) << why;
}

TEST(download_request, the_payload_may_only_narrow_the_workers_limits) {
    download_settings s;
    s.max_bytes = 1000;
    s.content_types = {"video/*"};
    const auto r = parse_download_request(
        {{"url", "https://h/x"}, {"video_id", "v"}, {"max_bytes", 5000}, {"sha256", std::string(64, 'A')}, {"size", 7}},
        std::nullopt, s);
    EXPECT_EQ(r.max_bytes, 1000u);
    EXPECT_EQ(r.content_types, std::vector<std::string>{"video/*"});
    EXPECT_EQ(r.sha256, std::string(64, 'a'));
    EXPECT_EQ(r.size, 7u);
    EXPECT_EQ(parse_download_request({{"url", "https://h/x"}, {"video_id", "v"}, {"max_bytes", 10}}, std::nullopt, s).max_bytes,
              10u);
    EXPECT_EQ(parse_download_request({{"url", "https://h/x"}, {"video_id", "v"}, {"content_types", {"Video/MP4"}}},
                                     std::nullopt, s)
                  .content_types,
              std::vector<std::string>{"video/mp4"});
    EXPECT_NE(refusal({{"url", "https://h/x"}, {"video_id", "v"}, {"content_types", {"audio/mp4"}}}, s), "");
    EXPECT_EQ(refusal({{"url", "https://h/x"}, {"video_id", "v"}, {"content_types", json::array()}}, s), "");
}

TEST(download_settings, are_read_and_checked) {
    const auto s = from({{"WHARF_DOWNLOAD_ALLOW", "127.0.0.1/32:8080,10.1.0.0/16"},
                         {"WHARF_DOWNLOAD_MAX_BYTES", "2GiB"},
                         {"WHARF_DOWNLOAD_CONTENT_TYPES", "video/*, audio/mp4"},
                         {"WHARF_DOWNLOAD_STALL_WINDOW", "5s"}});
    EXPECT_EQ(s.allow.size(), 2u);
    EXPECT_EQ(s.max_bytes, std::uint64_t{2} << 30);
    EXPECT_EQ(s.content_types, (std::vector<std::string>{"video/*", "audio/mp4"}));
    EXPECT_EQ(s.stall_window, std::chrono::seconds(5));
    const auto d = from({});
    EXPECT_TRUE(d.allow.empty());
    EXPECT_EQ(d.max_bytes, std::uint64_t{10} << 30);
    EXPECT_EQ(d.stall_window, std::chrono::seconds(60));
    EXPECT_THROW(from({{"WHARF_DOWNLOAD_ALLOW", "0177.0.0.1"}}), wharf::config_error);
    EXPECT_THROW(from({{"WHARF_DOWNLOAD_MAX_BYTES", "lots"}}), wharf::config_error);
    EXPECT_THROW(from({{"WHARF_DOWNLOAD_CONTENT_TYPES", "video"}}), wharf::config_error);
    EXPECT_THROW(from({{"WHARF_DOWNLOAD_STALL_WINDOW", "10ms"}}), wharf::config_error);
    EXPECT_THROW(from({{"WHARF_DOWNLOAD_CA_FILE", "/nonexistent/ca.pem"}}), wharf::config_error);
}
