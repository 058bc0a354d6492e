# shellcheck shell=bash
# Sourced by the run and test scripts: what Open MPI and OpenBLAS need on a
# workstation or CI box (root, more ranks than cores, one BLAS thread a rank).
export OPENBLAS_NUM_THREADS=1
export OMPI_MCA_rmaps_base_oversubscribe=1
if [ "$(id -u)" -eq 0 ]; then
  export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
fi
# Quiet Open MPI's warnings about missing high-speed interconnects.
export OMPI_MCA_btl_base_warn_component_unused=0
export HDF5_USE_FILE_LOCKING=FALSE
