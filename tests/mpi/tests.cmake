# The tsqr least-squares solve at 1, 2 and 3 ranks against LAPACK.
w2s_add_mpi_program(test_lsq_mpi)
w2s_add_mpi_test(lsq NPROCS 1 2 3 COMMAND $<TARGET_FILE:test_lsq_mpi>)
