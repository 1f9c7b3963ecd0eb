// Which route a method and path go to, the seeds' aliases, and the paths refused.
#include "router.hpp"

#include <gtest/gtest.h>

using namespace wharf::api;

TEST(api_router, routes_aliases_and_parameters) {
    auto r = route("GET", "/api/v1/jobs/clip%2D42");
    ASSERT_TRUE(r.match);
    EXPECT_EQ(r.match->id, route_id::job_get);
    EXPECT_EQ(r.match->params.at("id"), "clip-42");
    r = route("GET", "/api/jobs/clip-42/download/720p");  // seed 001's path
    ASSERT_TRUE(r.match);
    EXPECT_EQ(r.match->id, route_id::job_download);
    EXPECT_EQ(r.match->params.at("file_type"), "720p");
    EXPECT_EQ(route("GET", "/api/storage/stats").match->id, route_id::storage_stats);  // seed 000's
    EXPECT_EQ(route("POST", "/api/v1/jobs").match->id, route_id::job_enqueue);
    EXPECT_EQ(route("GET", "/api/v1/jobs").match->id, route_id::job_list);
    EXPECT_EQ(route("HEAD", "/api/v1/usage").match->id, route_id::usage);
}

TEST(api_router, wrong_method_unknown_path_and_bad_segments) {
    auto r = route("DELETE", "/api/v1/jobs");
    EXPECT_FALSE(r.match);
    EXPECT_EQ(r.allowed, (std::vector<std::string>{"GET", "POST"}));
    r = route("GET", "/api/v1/nope");
    EXPECT_FALSE(r.match);
    EXPECT_TRUE(r.allowed.empty());
    for (const char* bad : {"/api/v1/jobs/a%2Fb", "/api/v1/jobs/%00x", "/api/v1/jobs/%zz", "/api/v1/jobs/%4"}) {
        r = route("GET", bad);
        EXPECT_FALSE(r.match) << bad;
        EXPECT_EQ(r.bad_param, "id") << bad;
    }
    EXPECT_FALSE(route("GET", "/api/v1/jobs/" + std::string(300, 'a')).match);
    EXPECT_FALSE(route("GET", "/api/v1/jobs/a/b/c/d/e").match);
}
