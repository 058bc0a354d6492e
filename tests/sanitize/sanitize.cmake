# A second build with ASan + UBSan + LeakSanitizer (build/sanitize) and the
# test suite run there by tests/sanitize/run.sh (its own ctest, -j2; about
# 8-12 minutes on 2 cores, see docs/RELIABILITY.md).
add_test(NAME sanitize.asan_ubsan COMMAND bash ${CMAKE_CURRENT_LIST_DIR}/run.sh)
set_tests_properties(sanitize.asan_ubsan PROPERTIES ENVIRONMENT "${W2S_TEST_ENV}"
  TIMEOUT 2700)
