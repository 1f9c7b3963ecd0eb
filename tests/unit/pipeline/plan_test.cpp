// Where a pipeline advances: the submission's validation and every transition of the state
// machine, without a database or a queue.
#include "wharf/pipeline/plan.hpp"

#include <gtest/gtest.h>

#include <algorithm>

namespace p = wharf::pipeline;
using json = nlohmann::json;

namespace {

p::spec parse_ok(const json& payload, std::string id = "clip-42", std::optional<std::string> key = "tenant-1") {
    auto r = p::parse_spec(payload, id, key);
    if (auto* why = std::get_if<std::string>(&r)) ADD_FAILURE() << *why;
    return std::get<p::spec>(std::move(r));
}

std::string reason(const json& payload, std::string id = "clip-42") {
    auto r = p::parse_spec(payload, id, std::nullopt);
    if (auto* why = std::get_if<std::string>(&r)) return *why;
    return "accepted";
}

std::vector<std::string> names(const std::vector<const p::step*>& steps) {
    std::vector<std::string> out;
    for (auto* s : steps) out.push_back(s->name);
    std::sort(out.begin(), out.end());
    return out;
}

json stored(std::string key, std::string sha = std::string(64, 'a')) {
    return json{{"provider", "local"}, {"bucket", "/srv"}, {"key", std::move(key)}, {"size", 1000}, {"sha256", std::move(sha)}};
}

}  // namespace

TEST(pipeline_spec, reads_each_kind_of_source_and_the_options) {
    auto url = parse_ok({{"source", {{"url", "https://cdn.example/in/clip.MP4?sig=x"}}}, {"renditions", {"360p", "720p"}}});
    EXPECT_EQ(url.url, "https://cdn.example/in/clip.MP4?sig=x");
    EXPECT_EQ(url.video_id, "clip-42");  // defaults to the pipeline id
    EXPECT_EQ(url.renditions, (std::vector<std::string>{"360p", "720p"}));
    EXPECT_EQ(url.api_key, "tenant-1");
    auto path = parse_ok({{"source", "/srv/in/clip.mov"}, {"video_id", "v1"}});
    EXPECT_EQ(path.path, "/srv/in/clip.mov");
    EXPECT_EQ(path.video_id, "v1");
    auto obj = parse_ok({{"source", {{"provider", "s3"}, {"key", "videos/v1/raw.mp4"}, {"sha256", std::string(64, 'b')}}},
                         {"fan_out", true}, {"renditions", {"360p"}}, {"presign_expires", 600}});
    ASSERT_TRUE(obj.stored);
    EXPECT_EQ(obj.stored->sha256, std::string(64, 'b'));
    EXPECT_TRUE(obj.fan_out);
    EXPECT_EQ(obj.presign_expires, 600);
    // A round trip through the stored form.
    const auto back = p::spec_from_json(p::to_json(obj));
    EXPECT_EQ(back.stored->key, "videos/v1/raw.mp4");
    EXPECT_EQ(back.renditions, obj.renditions);
    EXPECT_EQ(back.api_key, "tenant-1");
}

TEST(pipeline_spec, refuses_bad_submissions_with_a_reason) {
    EXPECT_EQ(reason(json::array()), "payload must be a JSON object");
    EXPECT_NE(reason({{"video_id", "v"}}).find("payload.source is required"), std::string::npos);
    EXPECT_NE(reason({{"source", "relative/clip.mp4"}}).find("absolute"), std::string::npos);
    EXPECT_NE(reason({{"source", {{"url", 5}}}}).find("payload.source.url"), std::string::npos);
    EXPECT_NE(reason({{"source", 5}}).find("payload.source must be"), std::string::npos);
    EXPECT_NE(reason({{"source", {{"provider", "s3"}, {"key", "k"}, {"sha256", "ABC"}}}}).find("sha256"), std::string::npos);
    EXPECT_NE(reason({{"source", "/a.mp4"}, {"video_id", "../x"}}).find("video_id"), std::string::npos);
    EXPECT_NE(reason({{"source", "/a.mp4"}, {"video_id", ".."}}).find("video_id"), std::string::npos);
    EXPECT_NE(reason({{"source", "/a.mp4"}, {"renditions", json::array()}}).find("renditions"), std::string::npos);
    EXPECT_NE(reason({{"source", "/a.mp4"}, {"renditions", {"360p", "360p"}}}).find("twice"), std::string::npos);
    EXPECT_NE(reason({{"source", "/a.mp4"}, {"renditions", {"36.0p"}}}).find("renditions"), std::string::npos);
    EXPECT_NE(reason({{"source", "/a.mp4"}, {"fan_out", true}}).find("needs payload.renditions"), std::string::npos);
    EXPECT_NE(reason({{"source", "/a.mp4"}, {"transcode", {{"output_prefix", "x/"}}}}).find("set by the pipeline"),
              std::string::npos);
    EXPECT_NE(reason({{"source", "/a.mp4"}, {"download", {{"sha256", "x"}}}}).find("URL source only"), std::string::npos);
    EXPECT_NE(reason({{"source", "/a.mp4"}}, std::string(97, 'x')).find("at most 96"), std::string::npos);
    EXPECT_NE(reason({{"source", "/a.mp4"}}, "a/b").find("pipeline id"), std::string::npos);
    auto mismatch = p::parse_spec({{"source", "/a.mp4"}, {"api_key", "other"}}, "p", std::string{"tenant-1"});
    ASSERT_TRUE(std::holds_alternative<std::string>(mismatch));
}

TEST(pipeline_plan, a_url_runs_download_then_transcode_then_publish_and_succeeds) {
    auto st = p::start(parse_ok({{"source", {{"url", "https://h/in/clip.mp4"}}}}), std::nullopt);
    ASSERT_EQ(st.steps.size(), 1u);
    const auto& ingest = st.steps.at("ingest");
    EXPECT_EQ(ingest.queue, "download");
    EXPECT_EQ(ingest.job_id, "clip-42:ingest");
    EXPECT_EQ(ingest.payload["key"], "temp/clip-42/source.mp4");
    EXPECT_EQ(ingest.payload["url"], "https://h/in/clip.mp4");
    EXPECT_EQ(names(p::pending_actions(st).enqueue), (std::vector<std::string>{"ingest"}));

    auto a = p::on_step_end(st, "ingest", p::step_state::succeeded, stored("temp/clip-42/source.mp4"), std::nullopt,
                            std::nullopt);
    EXPECT_EQ(names(a.enqueue), (std::vector<std::string>{"transcode"}));
    const auto& tc = st.steps.at("transcode");
    EXPECT_EQ(tc.payload["source"]["key"], "temp/clip-42/source.mp4");
    EXPECT_EQ(tc.payload["source"]["sha256"], std::string(64, 'a'));
    EXPECT_EQ(tc.payload["output_prefix"], "temp/clip-42/out/");
    EXPECT_EQ(tc.payload["video_id"], "clip-42");
    EXPECT_FALSE(a.finished);

    a = p::on_step_end(st, "transcode", p::step_state::succeeded, json{{"artifacts", json::array()}}, std::nullopt,
                       std::nullopt);
    EXPECT_EQ(names(a.enqueue), (std::vector<std::string>{"publish"}));
    const auto& pub = st.steps.at("publish");
    EXPECT_EQ(pub.queue, "publish");
    EXPECT_EQ(pub.payload["to_prefix"], "processed/clip-42/");
    EXPECT_EQ(pub.payload["remove_prefix"], "temp/clip-42/");
    EXPECT_EQ(pub.payload["original"]["to"], "processed/clip-42/raw/video_original.mp4");

    a = p::on_step_end(st, "publish", p::step_state::succeeded, json{{"artifacts", {{"360p", {}}}}}, std::nullopt,
                       std::nullopt);
    EXPECT_TRUE(a.finished);
    EXPECT_TRUE(a.enqueue.empty());  // publish removed the temp objects: no discard
    EXPECT_EQ(st.status, p::pipeline_state::succeeded);
    EXPECT_EQ(st.result["duplicate"], false);
    EXPECT_TRUE(st.result["artifacts"].contains("360p"));
}

TEST(pipeline_plan, recording_the_same_end_twice_changes_nothing_and_repeats_what_is_pending) {
    auto st = p::start(parse_ok({{"source", "/srv/in/a.mov"}}), std::nullopt);
    EXPECT_EQ(st.steps.at("ingest").queue, "upload");
    EXPECT_EQ(st.steps.at("ingest").payload["source"], "/srv/in/a.mov");
    p::on_step_end(st, "ingest", p::step_state::succeeded, stored("temp/clip-42/source.mov"), std::nullopt, std::nullopt);
    const auto before = p::steps_to_json(st);
    auto again = p::on_step_end(st, "ingest", p::step_state::failed, json(), "late", std::nullopt);
    EXPECT_EQ(p::steps_to_json(st), before);
    EXPECT_EQ(st.status, p::pipeline_state::running);
    EXPECT_EQ(names(again.enqueue), (std::vector<std::string>{"transcode"}));  // re-enqueued: harmless
    EXPECT_FALSE(again.finished);
    // A job that is not one of its steps changes nothing either.
    p::on_step_end(st, "publish", p::step_state::succeeded, json::object(), std::nullopt, std::nullopt);
    EXPECT_EQ(p::steps_to_json(st), before);
}

TEST(pipeline_plan, a_failed_step_fails_the_pipeline_naming_it_and_discards_its_temp_objects) {
    auto st = p::start(parse_ok({{"source", {{"url", "https://h/a.mp4"}}}}), std::nullopt);
    p::on_step_end(st, "ingest", p::step_state::succeeded, stored("temp/clip-42/source.mp4"), std::nullopt, std::nullopt);
    auto a = p::on_step_end(st, "transcode", p::step_state::failed, json(), "no video stream", std::nullopt);
    EXPECT_TRUE(a.finished);
    EXPECT_EQ(st.status, p::pipeline_state::failed);
    EXPECT_NE(st.error->find("step transcode"), std::string::npos);
    EXPECT_NE(st.error->find("no video stream"), std::string::npos);
    EXPECT_EQ(names(a.enqueue), (std::vector<std::string>{"discard"}));
    EXPECT_EQ(st.steps.at("discard").payload["remove_prefix"], "temp/clip-42/");
    EXPECT_EQ(st.steps.at("discard").payload["discard"], true);
    EXPECT_TRUE(a.cancel.empty());  // the discard is never cancelled
    a = p::on_step_end(st, "discard", p::step_state::succeeded, json::object(), std::nullopt, std::nullopt);
    EXPECT_TRUE(a.enqueue.empty());
    EXPECT_FALSE(a.finished);  // it finished when the step failed
}

TEST(pipeline_plan, fan_out_waits_for_every_rendition_and_stops_the_others_when_one_fails) {
    auto st = p::start(parse_ok({{"source", {{"provider", "s3"}, {"key", "videos/v/raw.mp4"}}},
                                 {"renditions", {"360p", "720p", "1080p"}}, {"fan_out", true}}),
                       std::nullopt);
    EXPECT_EQ(names(p::pending_actions(st).enqueue),
              (std::vector<std::string>{"transcode.1080p", "transcode.360p", "transcode.720p"}));
    const auto& first = st.steps.at("transcode.360p").payload;
    EXPECT_EQ(first["renditions"], json::array({"360p"}));
    EXPECT_EQ(first["master"], false);   // publish writes it from every part's result
    EXPECT_FALSE(first.contains("audio"));  // the first part also makes the extras
    EXPECT_EQ(st.steps.at("transcode.720p").payload["audio"], false);
    EXPECT_EQ(st.steps.at("transcode.720p").payload["thumbnails"], false);
    auto a = p::on_step_end(st, "transcode.360p", p::step_state::succeeded, json::object(), std::nullopt, std::nullopt);
    EXPECT_FALSE(st.steps.contains("publish"));
    a = p::on_step_end(st, "transcode.720p", p::step_state::failed, json(), "ffmpeg exited 1", std::nullopt);
    EXPECT_EQ(st.status, p::pipeline_state::failed);
    EXPECT_EQ(names(a.cancel), (std::vector<std::string>{"transcode.1080p"}));
    EXPECT_FALSE(st.steps.contains("discard"));  // not while a part may still write temp objects
    a = p::on_step_end(st, "transcode.1080p", p::step_state::cancelled, json(), "cancelled", std::nullopt);
    EXPECT_EQ(names(a.enqueue), (std::vector<std::string>{"discard"}));
    EXPECT_EQ(st.status, p::pipeline_state::failed);  // the first reason stands
}

TEST(pipeline_plan, fan_out_publishes_with_every_result_once_all_renditions_succeeded) {
    auto st = p::start(parse_ok({{"source", {{"provider", "s3"}, {"key", "videos/v/raw.mkv"}}},
                                 {"renditions", {"360p", "720p"}}, {"fan_out", true}}),
                       std::nullopt);
    p::on_step_end(st, "transcode.720p", p::step_state::succeeded, json{{"x", 1}}, std::nullopt, std::nullopt);
    auto a = p::on_step_end(st, "transcode.360p", p::step_state::succeeded, json{{"y", 2}}, std::nullopt, std::nullopt);
    EXPECT_EQ(names(a.enqueue), (std::vector<std::string>{"publish"}));
    const auto& pub = st.steps.at("publish").payload;
    EXPECT_EQ(pub["transcodes"].size(), 2u);
    EXPECT_EQ(pub["write_master"], true);
    EXPECT_EQ(pub["original"]["key"], "videos/v/raw.mkv");
    EXPECT_EQ(pub["original"]["to"], "processed/clip-42/raw/video_original.mkv");
}

TEST(pipeline_plan, a_source_the_tenant_processed_before_finishes_early_as_a_duplicate) {
    const p::original first{"clip-1", json{{"artifacts", {{"720p", {{"key", "processed/clip-1/720p/video_720p.mp4"}}}}}}};
    // Known at submission (a stored source with its SHA-256): nothing runs.
    auto st = p::start(parse_ok({{"source", {{"provider", "s3"}, {"key", "videos/v/raw.mp4"}, {"sha256", std::string(64, 'c')}}}}),
                       first);
    EXPECT_EQ(st.status, p::pipeline_state::succeeded);
    EXPECT_TRUE(st.steps.empty());
    EXPECT_EQ(st.result["duplicate"], true);
    EXPECT_EQ(st.result["original_pipeline"], "clip-1");
    EXPECT_TRUE(st.result["artifacts"].contains("720p"));
    // Known after the download: the downloaded copy is discarded.
    auto st2 = p::start(parse_ok({{"source", {{"url", "https://h/a.mp4"}}}}), std::nullopt);
    const auto sha = p::needs_duplicate_lookup(st2, "ingest", p::step_state::succeeded, stored("temp/clip-42/source.mp4"));
    EXPECT_EQ(sha, std::string(64, 'a'));
    auto a = p::on_step_end(st2, "ingest", p::step_state::succeeded, stored("temp/clip-42/source.mp4"), std::nullopt, first);
    EXPECT_TRUE(a.finished);
    EXPECT_EQ(st2.status, p::pipeline_state::succeeded);
    EXPECT_EQ(st2.result["duplicate"], true);
    EXPECT_EQ(names(a.enqueue), (std::vector<std::string>{"discard"}));
    EXPECT_FALSE(p::needs_duplicate_lookup(st2, "transcode", p::step_state::succeeded, json()));
}

TEST(pipeline_plan, a_cancel_stops_running_steps_and_discards_once_they_ended) {
    auto st = p::start(parse_ok({{"source", {{"url", "https://h/a.mp4"}}}}), std::nullopt);
    p::on_step_end(st, "ingest", p::step_state::succeeded, stored("temp/clip-42/source.mp4"), std::nullopt, std::nullopt);
    auto a = p::cancel(st);
    EXPECT_TRUE(a.finished);
    EXPECT_EQ(st.status, p::pipeline_state::cancelled);
    EXPECT_EQ(names(a.cancel), (std::vector<std::string>{"transcode"}));
    EXPECT_FALSE(st.steps.contains("discard"));
    a = p::on_step_end(st, "transcode", p::step_state::cancelled, json(), "cancelled", std::nullopt);
    EXPECT_EQ(names(a.enqueue), (std::vector<std::string>{"discard"}));
    EXPECT_FALSE(a.finished);
    // Cancelling again, or after the end, changes nothing.
    const auto before = p::steps_to_json(st);
    a = p::cancel(st);
    EXPECT_FALSE(a.finished);
    EXPECT_EQ(p::steps_to_json(st), before);
    // A step cancelled by an operator directly cancels its pipeline.
    auto st2 = p::start(parse_ok({{"source", {{"url", "https://h/a.mp4"}}}}), std::nullopt);
    a = p::on_step_end(st2, "ingest", p::step_state::cancelled, json(), "cancelled", std::nullopt);
    EXPECT_EQ(st2.status, p::pipeline_state::cancelled);
    EXPECT_EQ(names(a.enqueue), (std::vector<std::string>{"discard"}));
}

TEST(pipeline_plan, steps_survive_a_round_trip_through_their_stored_form) {
    auto st = p::start(parse_ok({{"source", {{"url", "https://h/a.webm"}}}}), std::nullopt);
    p::on_step_end(st, "ingest", p::step_state::succeeded, stored("temp/clip-42/source.webm"), std::nullopt, std::nullopt);
    p::state back;
    back.submission = st.submission;
    p::steps_from_json(back, p::steps_to_json(st));
    EXPECT_EQ(p::steps_to_json(back), p::steps_to_json(st));
    ASSERT_TRUE(back.source);
    EXPECT_EQ(back.source->key, "temp/clip-42/source.webm");
    EXPECT_EQ(p::step_of_job(back, "transcode", "clip-42:transcode"), "transcode");
    EXPECT_FALSE(p::step_of_job(back, "download", "clip-42:transcode"));
    const auto progress = p::progress_json(back);
    EXPECT_EQ(progress["step"], "transcode");
    EXPECT_EQ(progress["steps"]["ingest"], "succeeded");
}
