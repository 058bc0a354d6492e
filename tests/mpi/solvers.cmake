# Every solver against LAPACK at 1..4 ranks (issue: distributed least squares).
w2s_add_mpi_program(test_solvers_mpi)
target_link_libraries(test_solvers_mpi PRIVATE PkgConfig::LAPACKE)
w2s_add_mpi_test(solvers NPROCS 1 2 3 4 8 COMMAND $<TARGET_FILE:test_solvers_mpi>)
