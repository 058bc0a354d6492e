# A second build with ASan + UBSan, and the runs of tests/sanitize/run.sh.
add_test(NAME sanitize.asan_ubsan COMMAND bash ${CMAKE_CURRENT_LIST_DIR}/run.sh)
set_tests_properties(sanitize.asan_ubsan PROPERTIES ENVIRONMENT "${W2S_TEST_ENV}"
  TIMEOUT 1200)
