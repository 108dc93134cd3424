# One NE's flood of X1 reports starves no other NE's task and is rate-limited ([x1] report_rate_per_ne; ctl/tasks.c, ctl/x1_reports.c).
lisec_integration_test(x1_report_flood tests/integration/x1_report_flood.sh)
# A ReportTaskIssue refused past [x1] report_queue_max is counted like one past the rate.
lisec_integration_test(x1_report_queue tests/integration/x1_report_queue.sh)
# A ReportTaskIssue whose audit write is slow holds up no ADMF pass (the record is written outside the issue queue's lock); needs the LISEC_TEST_X1_ISSUE_HOLD hook.
if(LISEC_TEST_HOOKS)
  lisec_integration_test(x1_report_slow_record tests/integration/x1_report_slow_record.sh)
endif()
