# The tsqr least-squares solve at 1, 2 and 3 ranks against LAPACK.
w2s_add_mpi_program(test_lsq_mpi)
w2s_add_mpi_test(lsq NPROCS 1 2 3 COMMAND $<TARGET_FILE:test_lsq_mpi>)
# The stacked factor (copy_r after a distributed tsqr pass, subfit) at 1, 2
# and 3 ranks against a 1-rank factor and LAPACK. Named under mpi.lsq. so
# that it is rerun under every BLAS kernel like the other lsq tests.
w2s_add_mpi_program(test_factor_mpi)
target_link_libraries(test_factor_mpi PRIVATE PkgConfig::LAPACKE)
w2s_add_mpi_test(lsq.factor_mpi NPROCS 1 2 3 COMMAND $<TARGET_FILE:test_factor_mpi>)
# The softmax Newton solver (heads.h) at 1, 2 and 3 ranks, a rank with no
# rows included, against a local fit of the whole problem.
w2s_add_mpi_program(test_softmax_mpi)
target_link_libraries(test_softmax_mpi PRIVATE PkgConfig::LAPACKE)
w2s_add_mpi_test(heads.softmax NPROCS 1 2 3 COMMAND $<TARGET_FILE:test_softmax_mpi>)
