# Every solver against LAPACK at 1..4 ranks (issue: distributed least squares).
w2s_add_mpi_program(test_solvers_mpi)
target_link_libraries(test_solvers_mpi PRIVATE PkgConfig::LAPACKE)
w2s_add_mpi_test(solvers NPROCS 1 2 3 4 8 COMMAND $<TARGET_FILE:test_solvers_mpi>)

# A solver added through the table alone (tests/lsq_dummy_solver.c and the
# table line -DW2S_LSQ_EXTRA_SOLVER appends): a second copy of the table
# (src/lsq/lsq.c, the only file compiled again), linked ahead of libw2s
# into a second w2s binary and a second solver test. e2e.solvers_dummy
# checks that --help-config, bench (with the dummy's own flop model) and
# test_solvers_mpi all see it.
add_library(w2s_lsq_dummy STATIC ${CMAKE_SOURCE_DIR}/src/lsq/lsq.c
  ${CMAKE_SOURCE_DIR}/tests/lsq_dummy_solver.c)
target_compile_definitions(w2s_lsq_dummy PRIVATE
  W2S_LSQ_EXTRA_SOLVER=w2s_lsq_solver_dummy)
target_include_directories(w2s_lsq_dummy PRIVATE ${CMAKE_SOURCE_DIR}/src)
target_compile_options(w2s_lsq_dummy PRIVATE ${W2S_WARNINGS})
target_link_libraries(w2s_lsq_dummy PUBLIC w2s)
add_executable(w2s_dummy ${W2S_CLI_SOURCES})
target_include_directories(w2s_dummy PRIVATE ${CMAKE_SOURCE_DIR}/src)
target_compile_options(w2s_dummy PRIVATE ${W2S_WARNINGS})
target_link_libraries(w2s_dummy PRIVATE w2s_lsq_dummy)
add_executable(test_solvers_mpi_dummy
  ${CMAKE_CURRENT_SOURCE_DIR}/mpi/test_solvers_mpi.c)
target_include_directories(test_solvers_mpi_dummy PRIVATE ${CMAKE_SOURCE_DIR}/src)
target_compile_options(test_solvers_mpi_dummy PRIVATE ${W2S_WARNINGS})
target_link_libraries(test_solvers_mpi_dummy PRIVATE w2s_lsq_dummy
  PkgConfig::LAPACKE)
w2s_add_script_test(solvers_dummy ${W2S_PYTHON}
  ${CMAKE_CURRENT_LIST_DIR}/../e2e/test_solvers_dummy.py)
set_tests_properties(e2e.solvers_dummy PROPERTIES ENVIRONMENT
  "${W2S_TEST_ENV};W2S_DUMMY=$<TARGET_FILE:w2s_dummy>;W2S_DUMMY_MPI_TEST=$<TARGET_FILE:test_solvers_mpi_dummy>")
