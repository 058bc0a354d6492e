add_test(NAME valgrind.memcheck COMMAND bash ${CMAKE_CURRENT_LIST_DIR}/run.sh)
set_tests_properties(valgrind.memcheck PROPERTIES ENVIRONMENT "${W2S_TEST_ENV}"
  TIMEOUT 900)
