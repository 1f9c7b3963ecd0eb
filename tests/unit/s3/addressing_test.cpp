// Profiles resolve to the right endpoint, region and addressing style; keys encode per S3.
#include "wharf/storage/s3/provider.hpp"

#include "wharf/http/client.hpp"

#include <gtest/gtest.h>

using namespace wharf::storage;

TEST(s3_addressing, aws_defaults_to_virtual_hosted_regional_endpoint) {
    s3::config c;
    c.profile = s3::profile::aws;
    c.bucket = "media";
    c.region = "eu-west-1";
    auto a = s3::resolve_addressing(c);
    EXPECT_EQ(a.origin, "https://media.s3.eu-west-1.amazonaws.com");
    EXPECT_EQ(a.object_path("videos/a b+c.mp4"), "/videos/a%20b%2Bc.mp4");
    c.bucket = "my.dotted.bucket";  // would not match the wildcard certificate
    EXPECT_TRUE(s3::resolve_addressing(c).path_style);
}

// What the AWS SDKs do: an aws-profile endpoint that is an IP address or localhost (a local MinIO
// or emulator), or a bucket name that cannot be a host name, goes path-style; asking for
// virtual-hosted there is a configuration error that names the setting.
TEST(s3_addressing, aws_profile_goes_path_style_where_virtual_hosting_cannot_work) {
    s3::config c;
    c.profile = s3::profile::aws;
    c.bucket = "media";
    for (const char* endpoint : {"http://127.0.0.1:9000", "http://[::1]:9000", "http://localhost:9000",
                                 "http://LocalHost.:9000", "http://minio.localhost:9000"}) {
        c.endpoint = endpoint;
        auto a = s3::resolve_addressing(c);
        EXPECT_TRUE(a.path_style) << endpoint;
        EXPECT_EQ(a.object_path("k"), "/media/k") << endpoint;
    }
    c.endpoint = "https://s3.example.net";
    EXPECT_FALSE(s3::resolve_addressing(c).path_style);
    EXPECT_EQ(s3::resolve_addressing(c).origin, "https://media.s3.example.net");
    for (const char* bucket : {"My_Bucket", "ab", "a..b", "a-.b", "-ab", "192.168.1.1", "ab-"}) {
        c.bucket = bucket;
        EXPECT_TRUE(s3::resolve_addressing(c).path_style) << bucket;
    }
    c.bucket = "media";
    c.endpoint = "http://127.0.0.1:9000";
    c.path_style = false;
    try {
        s3::resolve_addressing(c);
        ADD_FAILURE() << "path_style: false under an IP endpoint was accepted";
    } catch (const error& e) {
        EXPECT_NE(std::string(e.what()).find("path_style"), std::string::npos) << e.what();
    }
}

TEST(s3_addressing, dns_compatible_bucket_names) {
    for (const char* ok : {"abc", "media-2024", "a.b.c", "0ab"}) EXPECT_TRUE(s3::is_dns_compatible_bucket(ok)) << ok;
    EXPECT_TRUE(s3::is_dns_compatible_bucket(std::string(63, 'a')));
    for (const char* bad : {"", "ab", "Abc", "a_b", "a..b", "a.-b", "a-.b", ".ab", "ab.", "10.0.0.1", "a b"})
        EXPECT_FALSE(s3::is_dns_compatible_bucket(bad)) << bad;
    EXPECT_FALSE(s3::is_dns_compatible_bucket(std::string(64, 'a')));
    EXPECT_TRUE(s3::is_ip_literal_or_localhost("10.1.2.3"));
    EXPECT_TRUE(s3::is_ip_literal_or_localhost("::1"));
    EXPECT_FALSE(s3::is_ip_literal_or_localhost("s3.amazonaws.com"));
    EXPECT_FALSE(s3::is_ip_literal_or_localhost("localhost.example.com"));
}

TEST(s3_addressing, minio_r2_gcs_and_generic_are_path_style) {
    s3::config c;
    c.bucket = "b";
    c.profile = s3::profile::minio;
    c.endpoint = "http://127.0.0.1:9000";
    auto a = s3::resolve_addressing(c);
    EXPECT_EQ(a.origin, "http://127.0.0.1:9000");
    EXPECT_EQ(a.object_path("k/ü"), "/b/k/%C3%BC");
    EXPECT_EQ(a.region, "us-east-1");
    c.profile = s3::profile::r2;
    c.endpoint = "https://acct.r2.cloudflarestorage.com";
    EXPECT_EQ(s3::resolve_addressing(c).region, "auto");
    c.profile = s3::profile::gcs;
    c.endpoint.clear();
    EXPECT_EQ(s3::resolve_addressing(c).origin, "https://storage.googleapis.com");
    c.profile = s3::profile::generic;
    EXPECT_THROW(s3::resolve_addressing(c), error);  // generic needs an endpoint
}

TEST(s3_addressing, profile_names) {
    EXPECT_EQ(s3::parse_profile("r2"), s3::profile::r2);
    EXPECT_EQ(s3::parse_profile("gcs"), s3::profile::gcs);
    EXPECT_FALSE(s3::parse_profile("azure"));
}

// Per-profile part checksums: CRC32 where S3's x-amz-checksum-* is taken, Content-MD5 on R2 and
// GCS, which refuse a CRC asked for explicitly.
TEST(s3_part_checksum, profile_defaults_and_refusals) {
    s3::config c;
    c.bucket = "b";
    for (auto p : {s3::profile::aws, s3::profile::minio, s3::profile::generic}) {
        c.profile = p;
        EXPECT_EQ(s3::resolve_part_checksum(c), checksum_kind::crc32) << s3::to_string(p);
        c.part_checksum = checksum_kind::crc32c;
        EXPECT_EQ(s3::resolve_part_checksum(c), checksum_kind::crc32c);
        c.part_checksum.reset();
    }
    for (auto p : {s3::profile::r2, s3::profile::gcs}) {
        c.profile = p;
        EXPECT_EQ(s3::resolve_part_checksum(c), checksum_kind::md5) << s3::to_string(p);
        c.part_checksum = checksum_kind::none;
        EXPECT_EQ(s3::resolve_part_checksum(c), checksum_kind::none);
        c.part_checksum = checksum_kind::crc32;
        EXPECT_THROW(s3::resolve_part_checksum(c), error);
        c.part_checksum.reset();
    }
}

TEST(http_endpoint, parses_scheme_host_port) {
    auto e = wharf::http::parse_endpoint("https://Example.COM/x?y");
    EXPECT_TRUE(e.tls);
    EXPECT_EQ(e.host, "example.com");
    EXPECT_EQ(e.port, 443);
    EXPECT_EQ(e.host_header(), "example.com");
    auto l = wharf::http::parse_endpoint("http://127.0.0.1:9100");
    EXPECT_EQ(l.host_header(), "127.0.0.1:9100");
    auto v6 = wharf::http::parse_endpoint("http://[::1]:80");
    EXPECT_EQ(v6.host, "::1");
    EXPECT_EQ(v6.host_header(), "[::1]");
    EXPECT_THROW(wharf::http::parse_endpoint("ftp://x"), std::invalid_argument);
    EXPECT_THROW(wharf::http::parse_endpoint("http://x:99999"), std::invalid_argument);
}
