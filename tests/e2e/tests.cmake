# End-to-end scripts of tests/e2e (Python, Debian's numpy/h5py via
# W2S_PYTHON) driving the w2s binary; helpers in common.py. Each writes only
# into its own tempfile.mkdtemp() directory and removes it.
w2s_add_script_test(format ${W2S_PYTHON} ${CMAKE_CURRENT_LIST_DIR}/test_format.py)
# Version-2 files (built with h5py from FORMAT.md), other versions, absent metrics.
w2s_add_script_test(format_versions ${W2S_PYTHON} ${CMAKE_CURRENT_LIST_DIR}/test_format_versions.py)
w2s_add_script_test(theory ${W2S_PYTHON} ${CMAKE_CURRENT_LIST_DIR}/test_theory.py)
w2s_add_script_test(ranks ${W2S_PYTHON} ${CMAKE_CURRENT_LIST_DIR}/test_ranks.py)
w2s_add_script_test(bad_input ${W2S_PYTHON} ${CMAKE_CURRENT_LIST_DIR}/test_bad_input.py)
w2s_add_script_test(blas ${W2S_PYTHON} ${CMAKE_CURRENT_LIST_DIR}/test_blas.py)
# Writers on a full disk (a tmpfs it mounts: skipped, exit 77, without root),
# and publication: no clobbering, --force limits, inputs as outputs, long
# paths, signals while writing, merge under mpirun.
w2s_add_script_test(io_faults ${W2S_PYTHON} ${CMAKE_CURRENT_LIST_DIR}/test_io_faults.py)
set_tests_properties(e2e.io_faults PROPERTIES SKIP_RETURN_CODE 77)
w2s_add_script_test(io_publish ${W2S_PYTHON} ${CMAKE_CURRENT_LIST_DIR}/test_io_publish.py)
# --version against CMake's own PROJECT_VERSION and git revision.
w2s_add_script_test(cli ${W2S_PYTHON} ${CMAKE_CURRENT_LIST_DIR}/test_cli.py)
set_tests_properties(e2e.cli PROPERTIES ENVIRONMENT
  "${W2S_TEST_ENV};W2S_PROJECT_VERSION=${PROJECT_VERSION};W2S_GIT_REVISION=${W2S_GIT_REVISION}")
w2s_add_script_test(alloc_faults ${W2S_PYTHON} ${CMAKE_CURRENT_LIST_DIR}/test_alloc_faults.py)
# Hundreds of short runs; under tests/sanitize/run.sh each costs ~3 s.
set_tests_properties(e2e.alloc_faults PROPERTIES TIMEOUT 1500)
# The option tables: every listed option's typo gets "did you mean", every
# value-taking one names its missing value; unknown commands, config keys.
w2s_add_script_test(cli_opts ${W2S_PYTHON} ${CMAKE_CURRENT_LIST_DIR}/test_cli_opts.py)
# A weak model almost equal to the strong one (misfit ~1e-12 of the label
# variance): both engines keep 6 digits against a long-double reference.
w2s_add_script_test(cancellation ${W2S_PYTHON} ${CMAKE_CURRENT_LIST_DIR}/test_cancellation.py)
# fit.engine = factor against direct on every shipped config (shrunk) and
# explicit cases at 1-3 ranks, its theory identities, auto and a bad value
# (~1 min on 2 cores); the long variant at larger sizes (label long).
w2s_add_script_test(engines ${W2S_PYTHON} ${CMAKE_CURRENT_LIST_DIR}/test_engines.py)
w2s_add_script_test(engines_long ${W2S_PYTHON} ${CMAKE_CURRENT_LIST_DIR}/test_engines.py --long)
set_tests_properties(e2e.engines_long PROPERTIES LABELS long TIMEOUT 1800)
# [target] head = softmax against an independent numpy reference
# (cls_reference.py: its own Newton and IRLS fits), for C = 2 and 4, soft
# and sampled labels, both w2s inputs and ridges; gain_train = misfit_train
# at 1-3 ranks when realizable; its input errors (~30 s on 2 cores).
w2s_add_script_test(classification ${W2S_PYTHON} ${CMAKE_CURRENT_LIST_DIR}/test_classification.py)
# The reverse and mixture students: the forward identity fails for the
# reverse one, the reverse fit is stationary, the mixture's weights are the
# simplex optimum (KKT, numpy) and gain_train >= misfit_train (~40 s).
w2s_add_script_test(cls_students ${W2S_PYTHON} ${CMAKE_CURRENT_LIST_DIR}/test_cls_students.py)
# `w2s fit` on class labels (ids, probabilities) against a numpy Newton
# reference at 1-3 ranks, and every bad class input (~40 s on 2 cores).
w2s_add_script_test(fit_class ${W2S_PYTHON} ${CMAKE_CURRENT_LIST_DIR}/test_fit_class.py)
