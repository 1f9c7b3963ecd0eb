// The pure parts of applying the rules: the tiers each provider maps to, the S3 lifecycle
// configuration written as a backstop, whole days, and the `lifecycle` job's payload.
#include "wharf/lifecycle/apply.hpp"

#include "wharf/lifecycle/backstop.hpp"
#include "wharf/storage/azure.hpp"
#include "wharf/storage/s3/provider.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <stdexcept>

namespace l = wharf::lifecycle;
namespace s3 = wharf::storage::s3;
using nlohmann::json;
using wharf::storage::tier;
using namespace std::chrono_literals;

namespace {

l::rule_set parse(const char* text) {
    return l::parse_rules(json::parse(text), "test");
}

std::size_t count(const std::string& text, const std::string& what) {
    std::size_t n = 0;
    for (auto at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
    return n;
}

}  // namespace

TEST(lifecycle_tiers, s3_storage_classes_by_profile) {
    for (const auto p : {s3::profile::aws, s3::profile::minio, s3::profile::generic}) {
        EXPECT_EQ(s3::storage_class_for(p, tier::hot), "STANDARD");
        EXPECT_EQ(s3::storage_class_for(p, tier::warm), "STANDARD_IA");
        EXPECT_EQ(s3::storage_class_for(p, tier::cold), "GLACIER_IR") << "instant retrieval: reads keep working";
        EXPECT_EQ(s3::storage_class_header(p), "x-amz-storage-class");
    }
    EXPECT_EQ(s3::storage_class_for(s3::profile::r2, tier::warm), "STANDARD_IA");
    EXPECT_EQ(s3::storage_class_for(s3::profile::r2, tier::cold), "STANDARD_IA") << "R2 has one colder class";
    EXPECT_EQ(s3::storage_class_for(s3::profile::gcs, tier::warm), "NEARLINE");
    EXPECT_EQ(s3::storage_class_for(s3::profile::gcs, tier::cold), "COLDLINE");
    EXPECT_EQ(s3::storage_class_header(s3::profile::gcs), "x-goog-storage-class");
}

TEST(lifecycle_tiers, azure_access_tiers) {
    EXPECT_EQ(wharf::storage::azure::access_tier_for(tier::hot), "Hot");
    EXPECT_EQ(wharf::storage::azure::access_tier_for(tier::warm), "Cool");
    EXPECT_EQ(wharf::storage::azure::access_tier_for(tier::cold), "Cold");
}

TEST(lifecycle_backstop, whole_days_round_up) {
    EXPECT_EQ(l::whole_days(1s), 1u);
    EXPECT_EQ(l::whole_days(24h), 1u);
    EXPECT_EQ(l::whole_days(25h), 2u);
    EXPECT_EQ(l::whole_days(std::chrono::hours(24 * 30)), 30u);
}

TEST(lifecycle_backstop, each_rule_becomes_transitions_above_min_size_and_an_expiry_by_prefix) {
    const auto b = l::s3_lifecycle_configuration(parse(R"({"min_size": "128KiB", "rules": [
        {"prefix": "processed/", "warm_after": "30d", "cold_after": "90d"},
        {"prefix": "temp/", "expire_after": "1d"},
        {"prefix": "old/", "cold_after": "10d", "expire_after": "400d"}]})"),
                                                 s3::profile::aws, 7);
    EXPECT_TRUE(b.left_out.empty());
    EXPECT_EQ(b.s3_rules, 5u) << b.xml;  // processed tiers, temp expiry, old tiers + expiry, abort
    EXPECT_TRUE(
        b.xml.starts_with("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<LifecycleConfiguration "
                          "xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"))
        << b.xml;
    EXPECT_NE(
        b.xml.find("<Filter><And><Prefix>processed/</Prefix><ObjectSizeGreaterThan>131071</ObjectSizeGreaterThan>"
                   "</And></Filter><Status>Enabled</Status><Transition><Days>30</Days><StorageClass>STANDARD_IA"
                   "</StorageClass></Transition><Transition><Days>90</Days><StorageClass>GLACIER_IR</StorageClass>"
                   "</Transition></Rule>"),
        std::string::npos)
        << b.xml;
    EXPECT_NE(b.xml.find("<Filter><Prefix>temp/</Prefix></Filter><Status>Enabled</Status><Expiration><Days>1</Days>"
                         "</Expiration>"),
              std::string::npos)
        << "expiry applies at any size: no size filter\n"
        << b.xml;
    EXPECT_NE(b.xml.find("<Expiration><Days>400</Days></Expiration>"), std::string::npos) << b.xml;
    EXPECT_NE(b.xml.find("<AbortIncompleteMultipartUpload><DaysAfterInitiation>7</DaysAfterInitiation>"
                         "</AbortIncompleteMultipartUpload>"),
              std::string::npos)
        << b.xml;
    EXPECT_EQ(count(b.xml, "<Rule>"), b.s3_rules);
    EXPECT_EQ(count(b.xml, "<ID>"), b.s3_rules);
}

TEST(lifecycle_backstop, rules_s3_cannot_express_are_left_out_with_the_reason) {
    const auto b = l::s3_lifecycle_configuration(parse(R"({"min_size": 0, "rules": [
        {"prefix": "videos/", "warm_after": "30d"},
        {"prefix": "videos/premium/", "cold_after": "300d"},
        {"prefix": "t/", "api_key": "tenant-1", "expire_after": "2d"},
        {"prefix": "a&b<c>/", "expire_after": "3d"}]})"),
                                                 s3::profile::generic, 1);
    ASSERT_EQ(b.left_out.size(), 2u);
    EXPECT_EQ(b.left_out[0].prefix, "videos/");
    EXPECT_NE(b.left_out[0].reason.find("videos/premium/"), std::string::npos) << b.left_out[0].reason;
    EXPECT_EQ(b.left_out[1].api_key, "tenant-1");
    EXPECT_NE(b.left_out[1].reason.find("api_key"), std::string::npos);
    EXPECT_NE(b.xml.find("<Filter><Prefix>videos/premium/</Prefix></Filter>"), std::string::npos)
        << "min_size 0: no size filter\n"
        << b.xml;
    EXPECT_NE(b.xml.find("<Prefix>a&amp;b&lt;c&gt;/</Prefix>"), std::string::npos) << b.xml;
}

TEST(lifecycle_backstop, r2_has_one_transition_and_hours_stay_apart_in_days) {
    const auto r2 = l::s3_lifecycle_configuration(
        parse(R"({"rules": [{"prefix": "p/", "warm_after": "30d", "cold_after": "90d"}]})"), s3::profile::r2, 7);
    EXPECT_EQ(count(r2.xml, "<Transition>"), 1u) << r2.xml;
    const auto hours = l::s3_lifecycle_configuration(
        parse(R"({"rules": [{"prefix": "p/", "warm_after": "1h", "cold_after": "2h"}]})"), s3::profile::aws, 7);
    EXPECT_NE(hours.xml.find("<Days>1</Days><StorageClass>STANDARD_IA"), std::string::npos) << hours.xml;
    EXPECT_NE(hours.xml.find("<Days>2</Days><StorageClass>GLACIER_IR"), std::string::npos) << hours.xml;
    EXPECT_THROW(l::s3_lifecycle_configuration(l::default_rules(), s3::profile::gcs, 7), std::invalid_argument);
    EXPECT_THROW(l::s3_lifecycle_configuration(l::default_rules(), s3::profile::aws, 0), std::invalid_argument);
}

TEST(lifecycle_apply, payload_fields_are_checked) {
    const auto o =
        l::parse_apply_payload(json::parse(R"({"provider": "s3", "limit": 5, "concurrency": 2, "dry_run": true})"));
    EXPECT_EQ(o.provider, "s3");
    EXPECT_EQ(o.limit, 5u);
    EXPECT_EQ(o.concurrency, 2u);
    EXPECT_TRUE(o.dry_run);
    const auto defaults = l::parse_apply_payload(json::object());
    EXPECT_FALSE(defaults.provider);
    EXPECT_EQ(defaults.limit, 100'000u);
    EXPECT_FALSE(defaults.dry_run);
    for (const char* bad : {R"([])", R"({"limit": 0})", R"({"concurrency": 65})", R"({"dry_run": "yes"})",
                            R"({"provider": ""})", R"({"prefix": "a/"})"})
        EXPECT_THROW(l::parse_apply_payload(json::parse(bad)), std::invalid_argument) << bad;
}

TEST(lifecycle_apply, report_json_names_every_count) {
    l::apply_report r;
    r.to_cold = {2, 300};
    r.expired = {1, 10};
    r.failed = 1;
    r.failures.push_back({"s3", "a/b", "refused"});
    const auto j = l::to_json(r);
    EXPECT_EQ(j["to_cold"]["objects"], 2);
    EXPECT_EQ(j["to_cold"]["bytes"], 300);
    EXPECT_EQ(j["expired"]["objects"], 1);
    EXPECT_EQ(j["complete"], false);
    EXPECT_EQ(j["failures"][0]["key"], "a/b");
    EXPECT_EQ(r.changed(), 3u);
}
