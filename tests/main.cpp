// doctest's main, compiled once for the whole suite, and what isolates the test cases from each
// other: every test case (and every subcase's re-entry) starts on an empty tape with gradients on and
// anomaly mode off, whatever the test before it left behind.
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>

#include "autograd/tape.hpp"

namespace {

struct FreshTape : doctest::IReporter {
    explicit FreshTape(const doctest::ContextOptions&) {}
    static void reset() {
        tg::active_tape().clear();
        tg::set_anomaly_mode(false);
    }
    void test_case_start(const doctest::TestCaseData&) override { reset(); }
    void test_case_reenter(const doctest::TestCaseData&) override { reset(); }
    // The rest of the interface: nothing to do.
    void report_query(const doctest::QueryData&) override {}
    void test_run_start() override {}
    void test_run_end(const doctest::TestRunStats&) override {}
    void test_case_end(const doctest::CurrentTestCaseStats&) override {}
    void test_case_exception(const doctest::TestCaseException&) override {}
    void subcase_start(const doctest::SubcaseSignature&) override {}
    void subcase_end() override {}
    void log_assert(const doctest::AssertData&) override {}
    void log_message(const doctest::MessageData&) override {}
    void test_case_skipped(const doctest::TestCaseData&) override {}
};

}  // namespace

REGISTER_LISTENER("fresh-tape", 1, FreshTape);
