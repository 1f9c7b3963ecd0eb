// The lifecycle rules written as the provider's own lifecycle configuration, a backstop for when
// no wharf run applies them: for S3, the body of PutBucketLifecycleConfiguration. Pure.
//
// Each wharf rule becomes up to two S3 rules: its tier changes as Transitions (filtered by prefix
// and ObjectSizeGreaterThan min_size - 1, since smaller objects are not tiered) and its expiry as
// an Expiration (by prefix only: expiry applies at any size); plus one rule aborting incomplete
// multipart uploads after N days. Ages become whole days, rounded up (S3 counts days only).
//
// S3 cannot say what wharf's rules say in two cases, and such rules are left out (listed, with
// the reason) rather than written wrong: a rule for one api_key (S3 filters by prefix, size and
// tags, and wharf tags nothing), and a rule whose prefix another rule narrows (wharf lets the
// longest prefix govern an object; S3 applies every matching rule, so the shorter one would reach
// objects the longer one governs).
//
// What the provider then does is seen by the next wharf run: an object S3 moved already is found
// in its class (set_tier does nothing) and its row follows; one S3 expired is found gone and its
// row goes with its usage.
#pragma once

#include "wharf/lifecycle/rules.hpp"
#include "wharf/storage/s3/provider.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace wharf::lifecycle {

struct left_out_rule {
    std::string prefix;
    std::optional<std::string> api_key;
    std::string reason;
};

struct s3_backstop {
    std::string xml;           // the LifecycleConfiguration document
    std::size_t s3_rules = 0;  // <Rule> elements in it
    std::vector<left_out_rule> left_out;
};

// Throws std::invalid_argument for the gcs profile (its XML API takes another lifecycle document)
// or abort_incomplete_days of 0.
s3_backstop s3_lifecycle_configuration(const rule_set& rules, storage::s3::profile profile,
                                       std::uint32_t abort_incomplete_days);

// Whole days of an age, rounded up, at least 1.
std::uint32_t whole_days(std::chrono::seconds age) noexcept;

}  // namespace wharf::lifecycle
