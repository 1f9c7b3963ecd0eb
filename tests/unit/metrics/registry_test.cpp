// The metrics registry: the text exposition format, histogram buckets, bounded series, and the
// rules that keep a family's shape fixed.
#include "wharf/metrics/process.hpp"
#include "wharf/metrics/registry.hpp"

#include <gtest/gtest.h>

#include <thread>

using namespace wharf::metrics;

namespace {
bool contains(const std::string& text, const std::string& line) { return text.find(line) != std::string::npos; }
}  // namespace

TEST(metrics_registry, renders_counters_and_gauges_with_help_type_and_escaped_labels) {
    registry r;
    auto& jobs = r.counters("wharf_jobs_total", "Jobs.\nSecond line with a \\.", {"queue", "outcome"});
    jobs.with({"upload", "succeeded"}).inc();
    jobs.with({"upload", "succeeded"}).inc(2);
    jobs.with({"we\"ird\\q\nx", "dead"}).inc();
    r.gauges("wharf_slots", "Slots.").with({}).set(2.5);
    const auto text = r.render();
    EXPECT_TRUE(contains(text, "# HELP wharf_jobs_total Jobs.\\nSecond line with a \\\\.\n")) << text;
    EXPECT_TRUE(contains(text, "# TYPE wharf_jobs_total counter\n")) << text;
    EXPECT_TRUE(contains(text, "wharf_jobs_total{queue=\"upload\",outcome=\"succeeded\"} 3\n")) << text;
    EXPECT_TRUE(contains(text, "wharf_jobs_total{queue=\"we\\\"ird\\\\q\\nx\",outcome=\"dead\"} 1\n")) << text;
    EXPECT_TRUE(contains(text, "# TYPE wharf_slots gauge\nwharf_slots 2.5\n")) << text;
    // Families in name order.
    EXPECT_LT(text.find("wharf_jobs_total"), text.find("wharf_slots"));
}

TEST(metrics_registry, histogram_buckets_are_cumulative_with_le_inclusive_and_inf) {
    registry r;
    const double bounds[] = {0.1, 1, 10};
    auto& h = r.histograms("wharf_wait_seconds", "Waits.", bounds, {"queue"}).with({"q"});
    for (double v : {0.05, 0.1, 0.5, 1.0, 5.0, 50.0}) h.observe(v);
    const auto s = h.read();
    ASSERT_EQ(s.cumulative.size(), 4u);
    EXPECT_EQ(s.cumulative[0], 2u);  // 0.05 and 0.1 (le is inclusive)
    EXPECT_EQ(s.cumulative[1], 4u);
    EXPECT_EQ(s.cumulative[2], 5u);
    EXPECT_EQ(s.cumulative[3], 6u);
    EXPECT_DOUBLE_EQ(s.sum, 56.65);
    const auto text = r.render();
    EXPECT_TRUE(contains(text, "wharf_wait_seconds_bucket{queue=\"q\",le=\"0.1\"} 2\n")) << text;
    EXPECT_TRUE(contains(text, "wharf_wait_seconds_bucket{queue=\"q\",le=\"+Inf\"} 6\n")) << text;
    EXPECT_TRUE(contains(text, "wharf_wait_seconds_count{queue=\"q\"} 6\n")) << text;
    EXPECT_TRUE(contains(text, "wharf_wait_seconds_sum{queue=\"q\"} 56.65\n")) << text;
}

TEST(metrics_registry, a_family_is_bounded_and_folds_extra_label_sets_into_other) {
    registry r;
    auto& f = r.counters("wharf_bounded_total", "Bounded.", {"route"}, 10);
    for (int i = 0; i < 10'000; ++i) f.with({"id-" + std::to_string(i)}).inc();
    EXPECT_EQ(f.series(), 11u);  // ten, and the one "other"
    EXPECT_DOUBLE_EQ(f.with({"other"}).value(), 9'990);
    EXPECT_EQ(r.series(), 11u);
}

TEST(metrics_registry, the_same_name_gives_the_same_family_and_another_shape_is_refused) {
    registry r;
    auto& a = r.counters("wharf_x_total", "X.", {"queue"});
    auto& b = r.counters("wharf_x_total", "X.", {"queue"});
    EXPECT_EQ(&a, &b);
    EXPECT_THROW(r.gauges("wharf_x_total", "X.", {"queue"}), std::logic_error);
    EXPECT_THROW(r.counters("wharf_x_total", "X.", {"type"}), std::logic_error);
    EXPECT_THROW(r.counters("1bad", "X."), std::invalid_argument);
    EXPECT_THROW(r.counters("wharf_y_total", "Y.", {"le"}), std::invalid_argument);
    EXPECT_THROW(r.counters("wharf_z_total", "Z.", {"__reserved"}), std::invalid_argument);
    EXPECT_THROW(a.with({"q", "extra"}), std::invalid_argument);
    const double unsorted[] = {1, 0.5};
    EXPECT_THROW(r.histograms("wharf_h", "H.", unsorted), std::invalid_argument);
}

TEST(metrics_registry, counts_from_many_threads_add_up) {
    registry r;
    auto& c = r.counters("wharf_threads_total", "T.").with({});
    auto& h = r.histograms("wharf_threads_seconds", "T.", duration_buckets()).with({});
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t)
        threads.emplace_back([&] {
            for (int i = 0; i < 10'000; ++i) {
                c.inc();
                h.observe(0.5);
            }
        });
    for (auto& t : threads) t.join();
    EXPECT_DOUBLE_EQ(c.value(), 40'000);
    EXPECT_EQ(h.read().cumulative.back(), 40'000u);
}

TEST(metrics_registry, process_metrics_read_this_process) {
    registry r;
    register_process_metrics(r);
    register_process_metrics(r);  // once per registry
    const auto text = r.render();
    for (const char* name : {"process_cpu_seconds_total ", "process_resident_memory_bytes ", "process_open_fds ",
                             "process_max_fds ", "process_start_time_seconds ", "process_virtual_memory_bytes "})
        EXPECT_TRUE(contains(text, std::string("\n") + name)) << name << "\n" << text;
    EXPECT_GT(r.gauges("process_resident_memory_bytes", "Resident memory size in bytes.").with({}).value(), 1e6);
    EXPECT_GT(r.gauges("process_open_fds", "Number of open file descriptors.").with({}).value(), 2);
}
