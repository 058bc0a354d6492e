# The job scripts: syntax and shellcheck, and a real single-node Slurm.
# scripts.lint also runs cppcheck, and clang-tidy with this build's compile_commands.json.
add_test(NAME scripts.lint COMMAND bash ${CMAKE_CURRENT_LIST_DIR}/lint_scripts.sh
  ${CMAKE_BINARY_DIR} WORKING_DIRECTORY ${CMAKE_SOURCE_DIR})
add_test(NAME slurm.jobs COMMAND bash ${CMAKE_CURRENT_LIST_DIR}/test_slurm.sh)
set_tests_properties(slurm.jobs PROPERTIES ENVIRONMENT "${W2S_TEST_ENV}"
  TIMEOUT 600 RUN_SERIAL TRUE)
