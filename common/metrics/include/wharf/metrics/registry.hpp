// Process-wide metrics in the Prometheus data model: families of counters, gauges and histograms,
// each with fixed label names, rendered in the text exposition format (version 0.0.4).
//
// Label values must come from bounded sets (queue, type, outcome, provider, operation, route,
// code), never from job ids, keys or api keys; as a backstop, a family holds at most
// `max_series` children and folds any further label set into one whose values are all "other",
// so a bug cannot grow a scrape without bound.
//
// Updating a metric is lock-free (atomics); finding a child by its labels takes the family's
// mutex, so hot paths look a child up once and keep the reference (children never move).
#pragma once

#include <atomic>
#include <cstddef>
#include <functional>
#include <initializer_list>
#include <map>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace wharf::metrics {

enum class kind { counter, gauge, histogram };

// Only goes up (events, bytes, seconds of CPU).
class counter {
public:
    void inc(double by = 1) noexcept { value_.fetch_add(by, std::memory_order_relaxed); }
    double value() const noexcept { return value_.load(std::memory_order_relaxed); }

private:
    std::atomic<double> value_{0};
};

// Goes up and down, or is set (slots busy, bytes used, a timestamp).
class gauge {
public:
    void set(double v) noexcept { value_.store(v, std::memory_order_relaxed); }
    void add(double by) noexcept { value_.fetch_add(by, std::memory_order_relaxed); }
    double value() const noexcept { return value_.load(std::memory_order_relaxed); }

private:
    std::atomic<double> value_{0};
};

// Observations counted into fixed buckets (upper bounds, ascending; +Inf is implicit).
class histogram {
public:
    explicit histogram(std::span<const double> bounds);
    void observe(double v) noexcept;

    struct snapshot {
        std::vector<double> bounds;
        std::vector<std::uint64_t> cumulative;  // one per bound, then +Inf (= count)
        double sum = 0;
    };
    snapshot read() const;

private:
    std::vector<double> bounds_;
    std::unique_ptr<std::atomic<std::uint64_t>[]> buckets_;  // bounds_.size() + 1, not cumulative
    std::atomic<double> sum_{0};
};

// Bucket sets in base units (seconds, bytes).
std::span<const double> duration_buckets();       // 5 ms .. 1 h: jobs, waits
std::span<const double> request_duration_buckets();  // 1 ms .. 60 s: network requests

// A metric name and its label names: [a-zA-Z_:][a-zA-Z0-9_:]*, labels without "__" and not "le".
bool valid_metric_name(std::string_view name) noexcept;
bool valid_label_name(std::string_view name) noexcept;

class family_base {
public:
    family_base(std::string name, std::string help, metrics::kind k, std::vector<std::string> label_names,
                std::size_t max_series);
    virtual ~family_base() = default;
    const std::string& name() const noexcept { return name_; }
    metrics::kind kind() const noexcept { return kind_; }
    const std::vector<std::string>& label_names() const noexcept { return label_names_; }
    std::size_t series() const;
    void render(std::string& out) const;

protected:
    // The key of a label set, folded into the overflow set when the family is full. Throws
    // std::invalid_argument when the number of values is not the number of label names.
    std::vector<std::string> key_for(std::initializer_list<std::string_view> values) const;
    virtual void render_children(std::string& out) const = 0;
    std::string labels_text(const std::vector<std::string>& values, std::string_view extra = {}) const;

    mutable std::mutex mutex_;
    std::string name_, help_;
    metrics::kind kind_;
    std::vector<std::string> label_names_;
    std::size_t max_series_;
    std::size_t size_ = 0;  // under mutex_
};

template <class Metric>
class family final : public family_base {
public:
    using family_base::family_base;
    // The child of these label values (in label-name order), made on first use.
    Metric& with(std::initializer_list<std::string_view> values);

private:
    void render_children(std::string& out) const override;
    Metric& make(std::vector<std::string> key);
    std::map<std::vector<std::string>, std::unique_ptr<Metric>> children_;
    std::vector<double> bounds_;  // histograms only
    friend class registry;
};

class registry {
public:
    static constexpr std::size_t default_max_series = 1'000;

    // Registers a family, or returns the one of that name when its kind, labels (and buckets)
    // match; throws std::logic_error when they do not, std::invalid_argument for a bad name.
    family<counter>& counters(std::string_view name, std::string_view help, std::vector<std::string> label_names = {},
                              std::size_t max_series = default_max_series);
    family<gauge>& gauges(std::string_view name, std::string_view help, std::vector<std::string> label_names = {},
                          std::size_t max_series = default_max_series);
    family<histogram>& histograms(std::string_view name, std::string_view help, std::span<const double> bounds,
                                  std::vector<std::string> label_names = {},
                                  std::size_t max_series = default_max_series);

    // Called (in order of registration) at the start of every render(), to set gauges that are
    // read rather than kept (process CPU, descriptors). Must not call render(). A second
    // collector under the same key is ignored (false).
    bool add_collector(std::string key, std::function<void()> collect);

    // The text exposition format, families in name order, children in label order.
    std::string render() const;
    std::size_t series() const;

private:
    template <class Metric>
    family<Metric>& find_or_add(std::string_view name, std::string_view help, metrics::kind k,
                                std::vector<std::string> label_names, std::size_t max_series,
                                std::span<const double> bounds);
    mutable std::mutex mutex_;
    std::map<std::string, std::unique_ptr<family_base>, std::less<>> families_;
    std::vector<std::pair<std::string, std::function<void()>>> collectors_;
    mutable std::mutex collect_mutex_;  // one render's collectors at a time
};

// The process's registry: every library records into it, /metrics renders it.
registry& default_registry();

}  // namespace wharf::metrics
