// URL checks before any I/O, the redacted form logs and rows see, and the file name a URL gives.
#include "wharf/fetch/url.hpp"

#include <gtest/gtest.h>

namespace fetch = wharf::fetch;

namespace {

std::string refusal(const std::string& url) {
    const auto r = fetch::check_url(url);
    return r ? "" : r.error().message;
}

std::string name_of(const std::string& url) {
    const auto r = fetch::check_url(url);
    if (!r) throw std::invalid_argument(url + ": " + r.error().message);
    return fetch::file_name_of(*r);
}

}  // namespace

TEST(fetch_url, accepts_http_and_https_with_their_parts) {
    const auto u = fetch::check_url("HTTPS://user:pw@Media.Example:8443/a/clip%20one.mp4?X-Amz-Signature=abc#t=10");
    ASSERT_TRUE(u) << u.error().message;
    EXPECT_EQ(u->scheme, "https");
    EXPECT_EQ(u->host, "Media.Example");
    EXPECT_EQ(u->port, 8443);
    EXPECT_EQ(u->path, "/a/clip%20one.mp4");
    EXPECT_EQ(u->text, "HTTPS://user:pw@Media.Example:8443/a/clip%20one.mp4?X-Amz-Signature=abc");
    EXPECT_EQ(u->redacted, "https://Media.Example:8443/a/clip%20one.mp4");

    const auto v6 = fetch::check_url("http://[::1]/x");
    ASSERT_TRUE(v6);
    EXPECT_EQ(v6->host, "::1");
    EXPECT_EQ(v6->port, 80);
    EXPECT_EQ(v6->redacted, "http://[::1]/x");
    EXPECT_EQ(fetch::check_url("https://h")->port, 443);
    EXPECT_EQ(fetch::check_url("https://h")->path, "/");
    EXPECT_EQ(fetch::check_url("http://h:/p")->port, 80);  // an empty port is the default
    // Numeric spellings are host names to the URL: the egress check judges the address they
    // resolve to, not this text.
    EXPECT_TRUE(fetch::check_url("http://2130706433/"));
    EXPECT_TRUE(fetch::check_url("http://0x7f.1/"));
}

TEST(fetch_url, refuses_other_schemes_and_hosts_before_any_io) {
    for (const auto* url : {"ftp://h/x", "file:///etc/passwd", "gopher://h/", "dict://h:11211/", "ldap://h/",
                            "javascript:alert(1)", "//h/x", "/relative", "http:/x", "http:///x", "http://",
                            "http://h:0/", "http://h:65536/", "http://h:99999/", "http://h:80a/", "http://[v1.x]/",
                            "http://%41bc/", "http://a@b@c/", "http://h/a b", "http://h\\x/", "http://ex!ample/",
                            "http://h\r\n/", ""}) {
        SCOPED_TRACE(url);
        EXPECT_NE(refusal(url), "");
    }
    EXPECT_NE(refusal("http://h/" + std::string(fetch::max_url_bytes, 'a')), "");
    // A refusal never quotes the URL (it may hold a password or a signature).
    EXPECT_EQ(refusal("ftp://user:secret@h/?sig=zzz").find("secret"), std::string::npos);
}

TEST(fetch_url, redaction_drops_userinfo_query_and_fragment) {
    EXPECT_EQ(fetch::redact_url("https://u:p@h/a?b=c#d"), "https://h/a");
    EXPECT_EQ(fetch::redact_url("http://h:81/a"), "http://h:81/a");
    EXPECT_EQ(fetch::redact_url("garbage?token=1"), "garbage");
}

TEST(fetch_url, the_file_name_is_the_last_segment_made_safe) {
    EXPECT_EQ(name_of("https://h/a/b/clip.mp4?x=1"), "clip.mp4");
    EXPECT_EQ(name_of("https://h/a/My%20Clip%20(1).mp4"), "My_Clip__1_.mp4");
    EXPECT_EQ(name_of("https://h/"), "download");
    EXPECT_EQ(name_of("https://h"), "download");
    EXPECT_EQ(name_of("https://h/dir/"), "download");
    EXPECT_EQ(name_of("https://h/..%2F..%2Fetc%2Fpasswd"), "_.._etc_passwd");
    EXPECT_EQ(name_of("https://h/.hidden"), "hidden");
    EXPECT_EQ(name_of("https://h/..."), "download");
    EXPECT_EQ(name_of("https://h/%00%FF"), "__");
    EXPECT_EQ(name_of("https://h/" + std::string(300, 'x')).size(), 128u);
}
